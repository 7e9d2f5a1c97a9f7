import { setupServer } from "msw/node";
import { afterAll, beforeAll } from "vitest";
import { OllamaBlendResolver } from "../../src/core/blend-resolver.js";
import { ModelNotFoundError } from "../../src/core/errors.js";
import { OllamaChatProvider } from "../../src/providers/chat/ollama.js";
import type { OllamaChatBody } from "../../src/providers/chat/ollama-messages.js";
import { generate } from "../fixtures/engines/generation.js";
import { testExperts } from "../fixtures/herd/fakes.js";
import {
  chatStream,
  modelNotFound,
  ndjsonResponse,
  OLLAMA_URL,
  ollamaChatMock,
  readFixture,
} from "../fixtures/ollama/ollama-mock.js";
import { describeChatProviderContract } from "./chat-provider-contract.js";

/** Ollama (msw, the documented /api/chat NDJSON) through the shared provider contract. */

const served = ["herd-code", "herd-math", "herd-creative", "herd-blend-code-math-75-25", "llama3.2"];
let failNext = false;
let hold: Promise<unknown> | undefined;
/** The counts of the last reply's done line (chatStream's prompt_eval_count is 26). */
let reported: { inputTokens: number; outputTokens: number } | null = null;

function reply(body: OllamaChatBody): Response {
  if (!served.includes(body.model)) return modelNotFound(body.model);
  if (failNext) {
    failNext = false;
    return ndjsonResponse(readFixture("chat-error-midstream.ndjson"));
  }
  const o = body.options ?? {};
  const g = generate({
    label: body.model,
    maxTokens: typeof o.num_predict === "number" ? o.num_predict : undefined,
    stop: Array.isArray(o.stop) ? (o.stop as string[]) : undefined,
    tools: body.tools?.map((t) => ({ name: t.function.name ?? "" })),
    prompt: String(body.messages.at(-1)?.content ?? ""),
  });
  const toolCalls = g.toolCall
    ? [
        {
          id: g.toolCall.id,
          name: g.toolCall.name,
          arguments: JSON.parse(g.toolCall.argumentPieces.join("")),
        },
      ]
    : undefined;
  reported = { inputTokens: 26, outputTokens: g.completionTokens };
  const text = chatStream(g.pieces, {
    model: body.model,
    toolCalls,
    doneReason: g.finish === "length" ? "length" : "stop",
    evalCount: g.completionTokens,
  });
  return ndjsonResponse(text, { holdOpen: hold });
}

const mock = ollamaChatMock((body) => reply(body), OLLAMA_URL, served);
const server = setupServer(...mock.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterAll(() => server.close());

const provider = new OllamaChatProvider({ baseUrl: OLLAMA_URL });
const resolver = new OllamaBlendResolver();

describeChatProviderContract("ollama", {
  provider: () => provider,
  resolver: () => resolver,
  experts: testExperts,
  unknown: { model: "herd-nope", adapters: [{ expert: "nope", scale: 1 }], base: false },
  isUnknownError: (e) => e instanceof ModelNotFoundError && /herd build/.test((e as Error).message),
  lastSelection: () => mock.requests.at(-1)?.model,
  expectedBlend: "herd-blend-code-math-75-25",
  reportedUsage: () => reported,
  failNextStream: () => {
    failNext = true;
  },
  holdStreams: () => {
    let release!: () => void;
    hold = new Promise<void>((r) => {
      release = r;
    });
    return () => {
      hold = undefined;
      release();
    };
  },
});
