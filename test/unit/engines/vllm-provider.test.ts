import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OllamaBlendResolver } from "../../../src/core/blend-resolver.js";
import type { ChatChunk, ChatRequest } from "../../../src/core/chat.js";
import { ConfigError } from "../../../src/core/errors.js";
import type { RoutingDecision } from "../../../src/core/routing.js";
import { VllmChatProvider } from "../../../src/providers/chat/vllm/index.js";
import { standInHandlers } from "../../fixtures/engines/serve-stand-in.js";
import { VllmStandIn, type VllmStandInOptions } from "../../fixtures/engines/vllm-stand-in.js";
import { testExperts } from "../../fixtures/herd/fakes.js";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterAll(() => server.close());

const experts = { code: "herd-code", creative: "herd-creative", math: "herd-math" };
let hosts = 0;
/** A fresh stand-in on its own host, and a provider for it. */
function setup(
  engine: VllmStandInOptions,
  options: Partial<ConstructorParameters<typeof VllmChatProvider>[0]> = {},
) {
  const url = `http://vllm-${++hosts}.test:8000`;
  const standIn = new VllmStandIn(engine);
  server.use(...standInHandlers(url, standIn));
  const warnings: string[] = [];
  const provider = new VllmChatProvider({ url, experts, onWarning: (m) => warnings.push(m), ...options });
  return { standIn, provider, warnings };
}
const collect = async (s: AsyncIterable<ChatChunk>) => {
  let text = "";
  for await (const c of s) if (c.type === "text") text += c.text;
  return text;
};
const ask = (model: string, base = false): ChatRequest => ({
  target: { model, adapters: [], base },
  messages: [{ role: "user", content: "hi" }],
  params: {},
});
const blendDecision = {
  selected: [
    { name: "code", weight: 0.7, distance: 0.3, similarity: 0.7 },
    { name: "math", weight: 0.3, distance: 0.7, similarity: 0.3 },
  ],
} as RoutingDecision;

describe("VllmChatProvider start-up", () => {
  it("refuses a vLLM without LoRA (no adapter cards), naming --enable-lora --lora-modules", async () => {
    const { provider } = setup({ adapters: [] });
    const error = await provider.prepare().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /serves no LoRA adapters.*--enable-lora --lora-modules herd-code=/,
    );
  });

  it("names the expert whose adapter is not loaded and the --lora-modules entry to add", async () => {
    const { provider } = setup({ adapters: ["herd-code", "herd-creative"] });
    await expect(provider.prepare()).rejects.toThrow(
      /expert "math" \(herd-math\).*Add herd-math=<adapters>\/herd-math to --lora-modules/,
    );
  });

  it("loads missing experts and blends at run time from adapterDir (plain-text replies)", async () => {
    const folders = ["/srv/adapters/herd-math", "/srv/adapters/herd-blend-code-math-75-25"];
    const { provider, standIn, warnings } = setup(
      { adapters: ["herd-code", "herd-creative"], runtimeLoading: true, adapterFolders: folders },
      { adapterDir: "/srv/adapters/", blends: ["herd-blend-code-math-75-25", "herd-blend-code-math-50-50"] },
    );
    await provider.prepare();
    const loads = standIn.requests.filter((r) => r.path === "/v1/load_lora_adapter").map((r) => r.body);
    expect(loads[0]).toEqual({ lora_name: "herd-math", lora_path: "/srv/adapters/herd-math" });
    expect(await provider.listModels()).toEqual(
      expect.arrayContaining(["herd-math", "herd-blend-code-math-75-25"]),
    );
    expect(warnings.join("\n")).toMatch(/could not load 1 blend adapter.*herd-blend-code-math-50-50/);
  });

  it("says clearly when run-time loading is off (404 from /v1/load_lora_adapter)", async () => {
    const { provider } = setup({ adapters: ["herd-code"] }, { adapterDir: "/srv/adapters" });
    await expect(provider.prepare()).rejects.toThrow(/VLLM_ALLOW_RUNTIME_LORA_UPDATING=True/);
  });

  it("an unreachable server is a warning at start-up, not a crash", async () => {
    const url = "http://vllm-down.test:8000";
    server.use(http.get(`${url}/v1/models`, () => HttpResponse.error()));
    const warnings: string[] = [];
    const provider = new VllmChatProvider({ url, experts, onWarning: (m) => warnings.push(m) });
    await provider.prepare();
    expect(warnings[0]).toMatch(/Cannot reach vLLM at http:\/\/vllm-down.test:8000.*--provider vllm:/);
  });
});

describe("VllmChatProvider blends and the base", () => {
  it("a loaded blend is sent by its merged adapter's name; a missing one falls back to the top expert with a warning", async () => {
    const { provider, standIn } = setup({
      adapters: ["herd-code", "herd-creative", "herd-math", "herd-blend-code-math-75-25"],
    });
    await provider.prepare();
    const resolver = new OllamaBlendResolver();
    await resolver.prepare(provider);
    const hit = resolver.resolve(blendDecision, testExperts, provider.capabilities);
    expect(hit).toMatchObject({ model: "herd-blend-code-math-75-25", warnings: [] });
    await collect(provider.stream(ask(hit.model)));
    expect(standIn.requests.at(-1)?.body.model).toBe("herd-blend-code-math-75-25");
    const even = { selected: blendDecision.selected.map((s) => ({ ...s, weight: 0.5 })) } as RoutingDecision;
    const miss = resolver.resolve(even, testExperts, provider.capabilities);
    expect(miss.model).toBe("herd-code");
    expect(miss.warnings[0]).toMatch(/herd-blend-code-math-50-50" is not built/);
  });

  it("the base target is sent as the id vLLM serves the base under", async () => {
    const { provider, standIn } = setup({ adapters: ["herd-code", "herd-creative", "herd-math"] });
    await provider.prepare();
    const text = await collect(provider.stream(ask("llama3.2", true)));
    expect(standIn.requests.at(-1)?.body.model).toBe("meta-llama/Llama-3.2-3B-Instruct");
    expect(text).toContain("meta-llama/Llama-3.2-3B-Instruct");
  });

  it("sends stream:false with no stream_options when the caller does not stream", async () => {
    const { provider, standIn } = setup({ adapters: ["herd-code", "herd-creative", "herd-math"] });
    const text = await collect(provider.stream(ask("herd-code"), { stream: false }));
    expect(text).toContain("herd-code");
    expect(standIn.requests.at(-1)?.body).toMatchObject({ stream: false });
    expect(standIn.requests.at(-1)?.body).not.toHaveProperty("stream_options");
  });

  it("top_k 0 (off, as the facade and Ollama mean it) is sent as vLLM's -1, which every version accepts", async () => {
    const { provider, standIn } = setup({ adapters: ["herd-code", "herd-creative", "herd-math"] });
    await collect(provider.stream({ ...ask("herd-code"), params: { topK: 0 } }));
    expect(standIn.requests.at(-1)?.body).toMatchObject({ top_k: -1 });
    await collect(provider.stream({ ...ask("herd-code"), params: { topK: 40 } }));
    expect(standIn.requests.at(-1)?.body).toMatchObject({ top_k: 40 });
  });

  it("health is GET /health", async () => {
    const { provider, standIn } = setup({ adapters: [] });
    await provider.health();
    expect(standIn.requests.at(-1)?.path).toBe("/health");
  });
});
