import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatChunk, GenerationTarget } from "../../../src/core/chat.js";
import { ConfigError, ProviderResponseError } from "../../../src/core/errors.js";
import { LlamaServerChatProvider } from "../../../src/providers/chat/llama-server/index.js";
import {
  LlamaServerStandIn,
  type LlamaServerStandInOptions,
} from "../../fixtures/engines/llama-server-stand-in.js";
import { standInHandlers } from "../../fixtures/engines/serve-stand-in.js";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterAll(() => server.close());

const experts = [
  { expert: "code", file: "/home/me/experts/adapters/code.gguf", aliases: ["herd-code.gguf"] },
  { expert: "math", file: "/home/me/experts/adapters/math.gguf", aliases: ["herd-math.gguf"] },
];
let hosts = 0;
function setup(engine: LlamaServerStandInOptions) {
  const url = `http://llama-${++hosts}.test:8080`;
  const standIn = new LlamaServerStandIn(engine);
  server.use(...standInHandlers(url, standIn));
  return { standIn, provider: new LlamaServerChatProvider({ url, experts }) };
}
const run = async (provider: LlamaServerChatProvider, target: GenerationTarget) => {
  const chunks: ChatChunk[] = [];
  for await (const c of provider.stream({ target, messages: [{ role: "user", content: "hi" }], params: {} }))
    chunks.push(c);
  return chunks;
};

describe("LlamaServerChatProvider", () => {
  it("refuses a server started without adapters, naming every --lora to add", async () => {
    const { provider } = setup({ adapters: [] });
    const error = await provider.prepare().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(
      "has no LoRA adapters loaded. Restart it with --lora-init-without-apply --lora /home/me/experts/adapters/code.gguf --lora /home/me/experts/adapters/math.gguf",
    );
  });

  it("names the expert whose adapter file is not loaded and the --lora flag to add", async () => {
    const { provider } = setup({ adapters: ["/models/code.gguf"] });
    await expect(provider.prepare()).rejects.toThrow(
      /expert "math" \(\/home\/me\/experts\/adapters\/math.gguf\).*Restart it adding --lora \/home\/me\/experts\/adapters\/math.gguf/,
    );
  });

  it("matches adapters by file name or by their built name, and lists every id in each request", async () => {
    const { provider, standIn } = setup({
      adapters: ["other.gguf", "adapters/herd-math.gguf", "/srv/code.gguf"],
    });
    await provider.prepare();
    await run(provider, {
      model: "base",
      adapters: [
        { expert: "code", scale: 0.6 },
        { expert: "math", scale: 0.4 },
      ],
      base: false,
    });
    expect(standIn.lastLora).toEqual([
      { id: 0, scale: 0 },
      { id: 1, scale: 0.4 },
      { id: 2, scale: 0.6 },
    ]);
    await run(provider, { model: "base", adapters: [], base: true });
    expect(standIn.lastLora).toEqual([
      { id: 0, scale: 0 },
      { id: 1, scale: 0 },
      { id: 2, scale: 0 },
    ]);
  });

  it("health reports 503 while llama-server loads the model, then ok", async () => {
    const { provider, standIn } = setup({ adapters: ["code.gguf", "math.gguf"], loading: true });
    const error = await provider.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as ProviderResponseError).status).toBe(503);
    expect((error as Error).message).toMatch(/Loading model/);
    standIn.loading = false;
    await expect(provider.health()).resolves.toBeUndefined();
  });

  it("an expert the provider has no adapter id for names the --lora to add and the reload", async () => {
    const { provider } = setup({ adapters: ["code.gguf", "math.gguf"] });
    const astro: GenerationTarget = {
      model: "herd-astro",
      adapters: [{ expert: "astro", scale: 1 }],
      base: false,
    };
    await expect(run(provider, astro)).rejects.toThrow(
      /no adapter id for expert "astro": restart llama-server adding --lora <its .gguf file>, then reload the experts \(POST \/admin\/experts\/reload\)/,
    );
  });

  it("after a restart with another --lora order, the next /health re-reads the ids so the right adapter runs", async () => {
    const { provider, standIn } = setup({ adapters: ["code.gguf", "math.gguf"] });
    await provider.prepare();
    const code: GenerationTarget = {
      model: "herd-code",
      adapters: [{ expert: "code", scale: 1 }],
      base: false,
    };
    await run(provider, code);
    expect(standIn.lastLora).toEqual([
      { id: 0, scale: 1 },
      { id: 1, scale: 0 },
    ]);
    // The same address, restarted with the adapters the other way round (as a load balancer would see it).
    const restarted = new LlamaServerStandIn({ adapters: ["math.gguf", "code.gguf"] });
    server.use(...standInHandlers(provider.baseUrl, restarted));
    await provider.health();
    await run(provider, code);
    expect(restarted.lastLora).toEqual([
      { id: 0, scale: 0 },
      { id: 1, scale: 1 },
    ]);
  });
});

describe("a URL that is not the engine", () => {
  it("llama-server and vLLM providers pointed at another server say what they expected", async () => {
    const { VllmChatProvider } = await import("../../../src/providers/chat/vllm/index.js");
    const { LoraxStandIn } = await import("../../fixtures/engines/lorax-stand-in.js");
    const url = "http://not-the-engine.test:8080";
    server.use(...standInHandlers(url, new LoraxStandIn()));
    await expect(new LlamaServerChatProvider({ url, experts }).prepare()).rejects.toThrow(
      /has no GET \/lora-adapters: is it llama-server.*--provider llama-server:URL/,
    );
    await expect(new VllmChatProvider({ url, experts: { code: "herd-code" } }).prepare()).rejects.toThrow(
      /has no GET \/v1\/models: is it vLLM.*--provider vllm:URL/,
    );
  });
});
