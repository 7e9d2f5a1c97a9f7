import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll } from "vitest";
import { OllamaBlendResolver } from "../../../src/core/blend-resolver.js";
import { HerdChatModel, type HerdChatModelInput } from "../../../src/core/chat-model.js";
import { Pipeline } from "../../../src/core/pipeline.js";
import type { Plugin } from "../../../src/core/plugin.js";
import { OllamaChatProvider } from "../../../src/providers/chat/ollama.js";
import { FakeRouter, testExperts } from "../../fixtures/herd/fakes.js";
import {
  type ChatReply,
  ndjsonResponse,
  OLLAMA_URL,
  ollamaChatMock,
  readFixture,
} from "../../fixtures/ollama/ollama-mock.js";

/**
 * HerdChatModel on a real Pipeline and OllamaChatProvider, with Ollama mocked by msw from the
 * documented fixtures. `state.reply` decides each /api/chat answer; `mock.requests` records bodies.
 */
export function chatModelHarness() {
  const state: { reply: ChatReply } = { reply: () => ndjsonResponse(readFixture("chat-stream.ndjson")) };
  const mock = ollamaChatMock((body, request) => state.reply(body, request));
  const server = setupServer(...mock.handlers);
  beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
  afterEach(() => {
    mock.requests.length = 0;
    state.reply = () => ndjsonResponse(readFixture("chat-stream.ndjson"));
  });
  afterAll(() => server.close());

  function model(fields: Partial<HerdChatModelInput> = {}, plugins: Plugin[] = []) {
    const router = new FakeRouter();
    const pipeline = new Pipeline({
      router,
      resolver: new OllamaBlendResolver(),
      provider: new OllamaChatProvider({ baseUrl: OLLAMA_URL }),
      experts: testExperts,
      plugins,
    });
    return { chat: new HerdChatModel({ herd: pipeline, maxRetries: 0, ...fields }), router, pipeline };
  }
  return { state, mock, model };
}
