import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ChatChunk, ChatProvider, ChatRequest } from "../../../src/core/chat.js";
import { ExpertsNotServedError } from "../../../src/core/errors.js";
import type { Expert, ExpertSet } from "../../../src/core/expert.js";
import { LoraxChatProvider } from "../../../src/providers/chat/lorax/index.js";
import { OllamaChatProvider } from "../../../src/providers/chat/ollama.js";
import { LlamaCppChatProvider } from "../../../src/providers/llamacpp/chat-provider.js";
import { LoraxStandIn } from "../../fixtures/engines/lorax-stand-in.js";
import { standInHandlers } from "../../fixtures/engines/serve-stand-in.js";
import { LLAMA3_TEMPLATE } from "../../fixtures/engines/templates.js";
import { ndjsonResponse, ollamaChatMock, readFixture } from "../../fixtures/ollama/ollama-mock.js";

/** `ChatProvider.reloadExperts` on the providers whose reload the e2e tests do not reach through HTTP. */

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const expert = (name: string, model = `herd-${name}`): Expert => ({
  name,
  description: name,
  categories: [name],
  adapter: `adapters/${name}.gguf`,
  model,
  examples: [`a ${name} question`],
});
const set = (...experts: Expert[]): ExpertSet => ({ baseModel: "llama3.2", experts });
const code = expert("code");
const math = expert("math");
// A retrained astronomy adapter served under its own name, not herd-astro.
const astro = expert("astro", "astro-v2");

const drain = async (provider: ChatProvider, request: ChatRequest) => {
  const chunks: ChatChunk[] = [];
  for await (const c of provider.stream(request)) chunks.push(c);
  return chunks;
};

describe("LoRAX", () => {
  const DIR = "/data/adapters";
  const blend: ChatRequest = {
    target: {
      model: "llama3.2",
      adapters: [
        { expert: "astro", scale: 0.75 },
        { expert: "code", scale: 0.25 },
      ],
      base: false,
    },
    messages: [{ role: "user", content: "hi" }],
    params: {},
  };

  it("merges a reloaded expert by its own adapter name, and forgets a removed one's", async () => {
    const url = "http://lorax-reload.test:8080";
    const standIn = new LoraxStandIn({
      adapters: ["herd-code", "herd-math", "astro-v2"].map((n) => `${DIR}/${n}`),
    });
    server.use(...standInHandlers(url, standIn));
    const provider = new LoraxChatProvider({
      url,
      adapterDir: DIR,
      experts: { code: "herd-code", math: "herd-math" },
      merge: { strategy: "linear" },
      chatTemplate: LLAMA3_TEMPLATE,
      blends: [],
    });
    const reload = await provider.reloadExperts({ current: set(code, math), next: set(code, astro) });
    expect(reload.warnings).toEqual([]);
    // Old and new until the router has switched: the new expert merges by its own name already.
    await drain(provider, blend);
    const sent = standIn.requests.at(-1)?.body.parameters as { merged_adapters?: { ids: string[] } };
    expect(sent.merged_adapters?.ids).toEqual([`${DIR}/astro-v2`, `${DIR}/herd-code`]);
    expect(await provider.listModels?.()).toEqual(["herd-code", "herd-math", "astro-v2"]);
    reload.commit(set(code, astro));
    expect(await provider.listModels?.()).toEqual(["herd-code", "astro-v2"]);
    // New examples alone are no new adapter: LoRAX is not asked again.
    const asked = standIn.requests.length;
    const reworded = { ...astro, examples: ["a new astronomy question"] };
    await provider.reloadExperts({ current: set(code, astro), next: set(code, reworded) });
    expect(standIn.requests).toHaveLength(asked);
  });
});

describe("Ollama", () => {
  const URL = "http://ollama-reload.test:11434";
  const provider = new OllamaChatProvider({ baseUrl: URL });
  const reply = () => ndjsonResponse(readFixture("chat-stream.ndjson"));

  it("refuses a new expert whose model is not built, naming it and herd build", async () => {
    server.use(...ollamaChatMock(reply, URL, ["herd-code", "herd-math", "llama3.2"]).handlers);
    const error = await provider
      .reloadExperts({ current: set(code, math), next: set(code, math, expert("astro")) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExpertsNotServedError);
    expect((error as ExpertsNotServedError).status).toBe(409);
    expect((error as ExpertsNotServedError).experts).toEqual(["astro"]);
    expect((error as Error).message).toMatch(
      /Ollama at http:\/\/ollama-reload.test:11434 has no model herd-astro \(expert "astro"\).*unchanged.*npx herd build/,
    );
  });

  it("accepts it once built (a tag with :latest), and a removal needs no call at all", async () => {
    server.use(...ollamaChatMock(reply, URL, ["herd-code", "herd-math", "herd-astro"]).handlers);
    const added = await provider.reloadExperts({
      current: set(code, math),
      next: set(code, math, expert("astro")),
    });
    expect(added.warnings).toEqual([]);
    server.resetHandlers(); // no Ollama: onUnhandledRequest would fail a call
    const removed = await provider.reloadExperts({ current: set(code, math), next: set(code) });
    expect(removed.warnings).toEqual([]);
  });
});

describe("llama.cpp in process", () => {
  const provider = new LlamaCppChatProvider({
    modelPath: "/models/base.gguf",
    adapters: { code: "/experts/adapters/code.gguf", math: "/experts/adapters/math.gguf" },
  });

  it("refuses an expert that is new or has another adapter file: its adapters load at start-up", async () => {
    const retrained = { ...math, adapter: "adapters/math-v2.gguf" };
    const error = await provider
      .reloadExperts({ current: set(code, math), next: set(code, retrained, astro) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExpertsNotServedError);
    expect((error as ExpertsNotServedError).experts).toEqual(["math", "astro"]);
    expect((error as Error).message).toMatch(/loads its adapters at start-up.*restart herd serve/);
  });

  it("lets removals and changes that keep the adapter through", async () => {
    const reworded = { ...math, examples: ["a new math question"] };
    await expect(
      provider.reloadExperts({ current: set(code, math), next: set(reworded) }),
    ).resolves.toMatchObject({ warnings: [] });
  });
});
