import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHerd } from "../../src/herd.js";
import { LlamaServerStandIn } from "../fixtures/engines/llama-server-stand-in.js";
import { serveStandIn } from "../fixtures/engines/serve-stand-in.js";
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

/** End to end: the official openai client -> `herd serve`'s app -> the llama-server provider -> a loopback llama-server stand-in. */

// Started as `llama-server -m base.gguf --lora-init-without-apply --lora code.gguf --lora math.gguf --lora creative.gguf`.
const FILES = ["/models/code.gguf", "/models/math.gguf", "/models/creative.gguf"];
let engine: LlamaServerStandIn;
let served: { url: string; close: () => Promise<void> };
let herd: ServedEngineHerd;

beforeAll(async () => {
  engine = new LlamaServerStandIn({ adapters: FILES });
  served = await serveStandIn(engine);
  herd = await serveHerd({ name: "llama-server", url: served.url });
});
afterAll(async () => {
  await herd?.close();
  await served?.close();
});

describe("herd serve --provider llama-server:URL", () => {
  nativeToolChoiceAndLogprobsCases(() => herd);
  exactUsageCases(() => herd, { prompt_tokens: 1, completion_tokens: 12 });

  it("a routed two-expert blend reaches llama-server as lora scales equal to the routing weights", async () => {
    const { data, response } = await herd.openai.chat.completions
      .create({ model: "herd", messages: [{ role: "user", content: MIXED_PROMPT }], top_experts: 2 } as never)
      .withResponse();
    const weights = weightsOf(response.headers);
    expect(Object.keys(weights).sort()).toEqual(["code", "math"]);
    const lora = engine.lastLora as { id: number; scale: number }[];
    expect(lora.map((l) => l.id)).toEqual([0, 1, 2]);
    expect(lora[0]!.scale).toBeCloseTo(weights.code!, 3);
    expect(lora[1]!.scale).toBeCloseTo(weights.math!, 3);
    expect(lora[2]!.scale).toBe(0);
    expect((data as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toContain(
      "lora 0@",
    );
  });

  it("a forced expert runs its adapter at scale 1 and the others at 0, streaming", async () => {
    const stream = await herd.openai.chat.completions.create({
      model: "herd:math",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Answer from lora 1@1: the quick brown fox jumps over the lazy dog.");
    expect(engine.lastLora).toEqual([
      { id: 0, scale: 0 },
      { id: 1, scale: 1 },
      { id: 2, scale: 0 },
    ]);
  });

  it("streams tool calls", async () => {
    const final = await herd.openai.chat.completions
      .stream({ model: "herd:code", messages: [{ role: "user", content: "find it" }], tools: [searchTool] })
      .finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("search_docs");
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("/health is 503 while llama-server loads its model, 200 once it is up", async () => {
    engine.loading = true;
    const loading = await fetch(`${herd.url}/health`);
    expect(loading.status).toBe(503);
    expect(JSON.stringify(await loading.json())).toMatch(/Loading model/);
    engine.loading = false;
    expect((await fetch(`${herd.url}/health`)).status).toBe(200);
  });

  it("an expert whose adapter is not loaded stops herd at start-up, naming the file and --lora", async () => {
    const partial = await serveStandIn(new LlamaServerStandIn({ adapters: FILES.slice(0, 2) }));
    const empty = await serveStandIn(new LlamaServerStandIn({ adapters: [] }));
    try {
      const config = { experts: engineExperts, expertsDir: "/srv/herd/experts" };
      await expect(
        createHerd({ ...config, provider: { name: "llama-server", url: partial.url } }),
      ).rejects.toThrow(
        /expert "creative" \(\/srv\/herd\/experts\/adapters\/creative.gguf\).*--lora \/srv\/herd\/experts\/adapters\/creative.gguf/,
      );
      await expect(
        createHerd({ ...config, provider: { name: "llama-server", url: empty.url } }),
      ).rejects.toThrow(/has no LoRA adapters loaded/);
    } finally {
      await partial.close();
      await empty.close();
    }
  });
});
