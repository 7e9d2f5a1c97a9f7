import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { blendModelName, snapToGrid } from "../../src/core/blend-resolver.js";
import { ConfigError } from "../../src/core/errors.js";
import { createHerd } from "../../src/herd.js";
import { serveStandIn } from "../fixtures/engines/serve-stand-in.js";
import { VllmStandIn } from "../fixtures/engines/vllm-stand-in.js";
import {
  engineExperts,
  exactUsageCases,
  MIXED_PROMPT,
  nativeToolChoiceAndLogprobsCases,
  type ServedEngineHerd,
  searchTool,
  serveHerd,
  weightsOf,
} from "./engine-herd.js";

/** End to end: the official openai client -> `herd serve`'s app -> the vllm provider -> a loopback vLLM stand-in. */

const BLENDS = ["herd-blend-code-math-75-25", "herd-blend-code-math-50-50", "herd-blend-code-math-25-75"];
let engine: VllmStandIn;
let served: { url: string; close: () => Promise<void> };
let herd: ServedEngineHerd;

beforeAll(async () => {
  engine = new VllmStandIn({
    adapters: ["herd-code", "herd-math", "herd-creative", ...BLENDS],
    apiKey: "sk-vllm",
  });
  served = await serveStandIn(engine);
  herd = await serveHerd({ name: "vllm", url: served.url, apiKey: "sk-vllm" });
});
afterAll(async () => {
  await herd?.close();
  await served?.close();
});
const chats = () => engine.requests.filter((r) => r.path === "/v1/chat/completions");

describe("herd serve --provider vllm:URL", () => {
  nativeToolChoiceAndLogprobsCases(() => herd);
  exactUsageCases(() => herd, { prompt_tokens: 1, completion_tokens: 12 });

  it("answers a routed request through the expert's LoRA module, with the engine key", async () => {
    const { data, response } = await herd.openai.chat.completions
      .create({ model: "herd", messages: [{ role: "user", content: "Write a haiku about autumn leaves" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toContain("Answer from herd-creative:");
    expect(response.headers.get("x-herd-model")).toBe("herd-creative");
    expect(chats().at(-1)?.body).toMatchObject({ model: "herd-creative", stream: false });
    expect(chats().at(-1)?.headers.get("authorization")).toBe("Bearer sk-vllm");
  });

  it("streams with usage", async () => {
    const stream = await herd.openai.chat.completions.create({
      model: "herd:code",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("Answer from herd-code: the quick brown fox jumps over the lazy dog.");
    expect(usage).toMatchObject({ completion_tokens: 12 });
  });

  it("streams tool calls", async () => {
    const stream = herd.openai.chat.completions.stream({
      model: "herd:code",
      messages: [{ role: "user", content: "find the docs" }],
      tools: [searchTool],
    });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("search_docs");
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({
      query: "find the docs",
    });
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("a routed two-expert blend reaches vLLM as the merged adapter's name", async () => {
    const { data, response } = await herd.openai.chat.completions
      .create({ model: "herd", messages: [{ role: "user", content: MIXED_PROMPT }], top_experts: 2 } as never)
      .withResponse();
    const weights = weightsOf(response.headers);
    expect(Object.keys(weights).sort()).toEqual(["code", "math"]);
    const ranked = Object.entries(weights).map(([name, weight]) => ({
      name,
      weight,
      distance: 0,
      similarity: 0,
    }));
    const expected = blendModelName(snapToGrid(ranked) as never);
    expect(chats().at(-1)?.body.model).toBe(expected);
    expect((data as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toContain(
      expected,
    );
  });

  it("a disconnecting client cancels the engine's stream", async () => {
    const before = engine.cancelled;
    let release!: () => void;
    engine.hold = new Promise<void>((r) => {
      release = r;
    });
    const controller = new AbortController();
    const stream = await herd.openai.chat.completions.create(
      { model: "herd:code", messages: [{ role: "user", content: "hi" }], stream: true },
      { signal: controller.signal },
    );
    for await (const _ of stream) {
      controller.abort();
      break;
    }
    await expect.poll(() => engine.cancelled, { timeout: 5000 }).toBeGreaterThan(before);
    engine.hold = undefined;
    release();
  });

  it("/health reports the engine's readiness", async () => {
    const res = await fetch(`${herd.url}/health`);
    expect(res.status).toBe(200);
    expect(engine.requests.at(-1)?.path).toBe("/health");
  });
});

describe("vLLM misconfigurations get one clear error naming the fix", () => {
  let bad: { url: string; close: () => Promise<void> } | undefined;
  afterEach(async () => {
    await bad?.close();
    bad = undefined;
  });

  it("an unreachable engine: requests answer 503 naming the URL and --provider vllm:URL", async () => {
    const down = await serveHerd({ name: "vllm", url: "http://127.0.0.1:9" });
    try {
      const error = await down.openai.chat.completions
        .create({ model: "herd:code", messages: [{ role: "user", content: "hi" }] })
        .catch((e: unknown) => e);
      expect((error as { status?: number }).status).toBe(503);
      expect((error as Error).message).toMatch(/Cannot reach vLLM at http:\/\/127.0.0.1:9.*--provider vllm:/);
    } finally {
      await down.close();
    }
  });

  it("a vLLM without LoRA enabled, or without an expert's adapter, stops herd at start-up", async () => {
    bad = await serveStandIn(new VllmStandIn({ adapters: [] }));
    const config = { experts: engineExperts, expertsDir: "/srv", provider: { name: "vllm", url: bad.url } };
    await expect(createHerd(config)).rejects.toThrow(/serves no LoRA adapters.*--enable-lora --lora-modules/);
    await bad.close();
    bad = await serveStandIn(new VllmStandIn({ adapters: ["herd-code", "herd-creative"] }));
    const error = await createHerd({ ...config, provider: { name: "vllm", url: bad.url } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/expert "math" \(herd-math\).*--lora-modules/);
  });

  it("a blend vLLM does not serve falls back to the top expert with a warning header", async () => {
    bad = await serveStandIn(new VllmStandIn({ adapters: ["herd-code", "herd-math", "herd-creative"] }));
    const h = await serveHerd({ name: "vllm", url: bad.url });
    try {
      const { response } = await h.openai.chat.completions
        .create({
          model: "herd",
          messages: [{ role: "user", content: MIXED_PROMPT }],
          top_experts: 2,
        } as never)
        .withResponse();
      expect(["herd-code", "herd-math"]).toContain(response.headers.get("x-herd-model"));
      expect(response.headers.get("x-herd-warning")).toMatch(/is not built; the top expert/);
    } finally {
      await h.close();
    }
  });
});
