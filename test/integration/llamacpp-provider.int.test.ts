import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GeneralChatWrapper, getLlama, type Llama, LlamaChat } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatChunk, ChatRequest, GenerationTarget } from "../../src/core/chat.js";
import { AbortError, UnknownExpertError } from "../../src/core/errors.js";
import {
  createDemoAssets,
  type DemoAssets,
  LlamaCppChatProvider,
} from "../../src/providers/llamacpp/index.js";

/** Real llama.cpp (node-llama-cpp) with the generated tiny model and one LoRA per expert. */

let dir: string;
let assets: DemoAssets;
let provider: LlamaCppChatProvider;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-llamacpp-"));
  assets = await createDemoAssets(dir, ["code", "math", "chat"]);
  provider = new LlamaCppChatProvider({ modelPath: assets.modelPath, adapters: assets.adapters, threads: 1 });
  await provider.health();
});

afterAll(async () => {
  await provider?.close();
  await rm(dir, { recursive: true, force: true });
});

const base: GenerationTarget = { model: "base", base: true, adapters: [] };
const expert = (name: string): GenerationTarget => ({
  model: name,
  base: false,
  adapters: [{ expert: name, scale: 1 }],
});
const blend = (a: number, b: number): GenerationTarget => ({
  model: "blend",
  base: false,
  adapters: [
    { expert: "code", scale: a },
    { expert: "math", scale: b },
  ],
});

function request(target: GenerationTarget, params: ChatRequest["params"] = { maxTokens: 24 }): ChatRequest {
  return { target, messages: [{ role: "user", content: "Write a short poem about the sea." }], params };
}

async function collect(stream: AsyncIterable<ChatChunk>): Promise<{ text: string; chunks: ChatChunk[] }> {
  const chunks: ChatChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return { text: chunks.map((c) => (c.type === "text" ? c.text : "")).join(""), chunks };
}

const run = (r: ChatRequest, signal?: AbortSignal) => collect(provider.stream(r, { signal }));

/** Total variation distance between two next-token distributions. */
function distance(p: Map<number, number>, q: Map<number, number>): number {
  let sum = 0;
  for (const id of new Set([...p.keys(), ...q.keys()])) sum += Math.abs((p.get(id) ?? 0) - (q.get(id) ?? 0));
  return sum / 2;
}

const PROMPT = "the sea is";

describe("adapters change what the model does", () => {
  it("an expert adapter changes the next-token distribution versus the base", async () => {
    const baseProbs = await provider.nextTokenProbabilities([], PROMPT);
    const code = await provider.nextTokenProbabilities([{ expert: "code", scale: 1 }], PROMPT);
    expect(distance(baseProbs, code)).toBeGreaterThan(0.2);
  });

  it("an adapter at scale 0 in a real llama.cpp context equals the base within 1e-4", async () => {
    let llama: Llama | undefined;
    try {
      llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
      const model = await llama.loadModel({ modelPath: assets.modelPath });
      const probabilities = async (scale?: number) => {
        const context = await model.createContext({
          threads: 1,
          ...(scale === undefined
            ? {}
            : { lora: { adapters: [{ filePath: assets.adapters.code!, scale }] } }),
        });
        const tokens = model.tokenize(PROMPT);
        const out = await context
          .getSequence()
          .controlledEvaluate([
            ...tokens.slice(0, -1),
            [tokens.at(-1)!, { generateNext: { probabilities: true } }],
          ]);
        await context.dispose();
        return out.at(-1)!.next!.probabilities!;
      };
      const [plain, zero, one] = [await probabilities(), await probabilities(0), await probabilities(1)];
      const maxDiff = Math.max(...[...plain].map(([id, p]) => Math.abs(p - (zero.get(id) ?? 0))));
      expect(maxDiff).toBeLessThan(1e-4);
      expect(distance(plain, one)).toBeGreaterThan(0.2);
    } finally {
      await llama?.dispose();
    }
  });

  it("the same request routed to two experts gives different, reproducible answers", async () => {
    const code = await run(request(expert("code")));
    const math = await run(request(expert("math")));
    expect(code.text).not.toBe(math.text);
    expect((await run(request(expert("code")))).text).toBe(code.text);
  });

  it("routing weights reach the adapter scales: a 0.7/0.3 blend differs from each expert and is deterministic", async () => {
    const probs = (adapters: GenerationTarget["adapters"]) =>
      provider.nextTokenProbabilities(adapters, PROMPT);
    const mixed = await probs(blend(0.7, 0.3).adapters);
    const code = await probs([{ expert: "code", scale: 1 }]);
    const math = await probs([{ expert: "math", scale: 1 }]);
    const swapped = await probs(blend(0.3, 0.7).adapters);
    expect(distance(mixed, code)).toBeGreaterThan(0.05);
    expect(distance(mixed, math)).toBeGreaterThan(0.05);
    expect(distance(mixed, swapped)).toBeGreaterThan(0.05);
    expect(distance(mixed, await probs(blend(0.7, 0.3).adapters))).toBe(0);
    const first = await run(request(blend(0.7, 0.3)));
    expect((await run(request(blend(0.7, 0.3)))).text).toBe(first.text);
  });

  it("an unknown expert is a clear error", async () => {
    await expect(run(request(expert("poetry")))).rejects.toThrow(UnknownExpertError);
  });
});

describe("generation", () => {
  it("streams several chunks whose concatenation is llama.cpp's full answer", async () => {
    const { text, chunks } = await run(request(base));
    const texts = chunks.filter((c) => c.type === "text");
    expect(texts.length).toBeGreaterThan(3);
    expect(chunks.at(-1)).toEqual({ type: "finish", finishReason: "length", usage: expect.any(Object) });
    expect(chunks.filter((c) => c.type === "finish")).toHaveLength(1);

    // The reference: node-llama-cpp's own chat API on a fresh context of the same model.
    const llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
    try {
      const model = await llama.loadModel({ modelPath: assets.modelPath });
      const context = await model.createContext({ threads: 1 });
      const chat = new LlamaChat({
        contextSequence: context.getSequence(),
        chatWrapper: new GeneralChatWrapper(),
      });
      const reference = await chat.generateResponse(
        [
          { type: "user", text: "Write a short poem about the sea." },
          { type: "model", response: [] },
        ],
        { maxTokens: 24 },
      );
      expect(text).toBe(reference.response);
    } finally {
      await llama.dispose();
    }
  });

  it("maxTokens ends with finish reason length and reports usage", async () => {
    const { chunks } = await run(request(expert("chat"), { maxTokens: 5 }));
    const finish = chunks.at(-1);
    expect(finish).toMatchObject({ type: "finish", finishReason: "length", usage: { outputTokens: 5 } });
    expect((finish as { usage: { inputTokens: number } }).usage.inputTokens).toBeGreaterThan(5);
  });

  it("a stop sequence ends the answer before it, with finish reason stop", async () => {
    const full = (await run(request(expert("math"), { maxTokens: 24 }))).text;
    const stop = full.slice(6, 8);
    const { text, chunks } = await run(request(expert("math"), { maxTokens: 24, stop: [stop] }));
    expect(text).toBe(full.slice(0, full.indexOf(stop)));
    expect(chunks.at(-1)).toMatchObject({ type: "finish", finishReason: "stop" });
  });

  it("sampling settings are applied: a seeded sample is reproducible and differs from greedy", async () => {
    const params = { maxTokens: 24, temperature: 1.2, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: 7 };
    const a = await run(request(expert("code"), params));
    const b = await run(request(expert("code"), params));
    const greedy = await run(request(expert("code")));
    expect(a.text).toBe(b.text);
    expect(a.text).not.toBe(greedy.text);
  });

  it("abort mid-stream stops generation and the provider serves the next request", async () => {
    const expected = (await run(request(expert("code"), { maxTokens: 200 }))).text;
    const controller = new AbortController();
    let received = "";
    const aborted = (async () => {
      for await (const chunk of provider.stream(request(expert("code"), { maxTokens: 200 }), {
        signal: controller.signal,
      })) {
        if (chunk.type === "text") received += chunk.text;
        if (received.length >= 3) controller.abort();
      }
    })();
    await expect(aborted).rejects.toThrow(AbortError);
    expect(received.length).toBeLessThan(expected.length);
    expect((await run(request(expert("code"), { maxTokens: 200 }))).text).toBe(expected);
  });

  it("a consumer that stops reading early frees the context for the next request", async () => {
    for await (const chunk of provider.stream(request(expert("chat")))) if (chunk.type === "text") break;
    const { chunks } = await run(request(expert("chat")));
    expect(chunks.at(-1)).toMatchObject({ type: "finish" });
  });

  it("concurrent requests on different and on equal adapter sets each get what they get alone", async () => {
    const targets = [base, expert("code"), expert("math"), blend(0.7, 0.3), expert("code")];
    const alone: string[] = [];
    for (const t of targets) alone.push((await run(request(t))).text);
    const together = await Promise.all(targets.map((t) => run(request(t))));
    expect(together.map((r) => r.text)).toEqual(alone);
    expect(new Set(alone.slice(0, 4)).size).toBe(4);
  });

  it("more concurrent adapter sets than maxContexts wait for a context and still get their own answers", async () => {
    const targets = [expert("code"), expert("math"), blend(0.5, 0.5)];
    const alone: string[] = [];
    for (const t of targets) alone.push((await run(request(t))).text);
    const small = new LlamaCppChatProvider({
      modelPath: assets.modelPath,
      adapters: assets.adapters,
      threads: 1,
      maxContexts: 1,
    });
    try {
      const together = await Promise.all(targets.map((t) => collect(small.stream(request(t)))));
      expect(together.map((r) => r.text)).toEqual(alone);
    } finally {
      await small.close();
    }
  });

  it("a JSON schema constrains the output", async () => {
    const schema = {
      type: "object",
      properties: { answer: { enum: ["yes", "no"] }, confident: { type: "boolean" } },
      required: ["answer", "confident"],
    };
    const { text } = await run({
      ...request(expert("code"), { maxTokens: 60 }),
      responseFormat: { type: "json_schema", schema },
    });
    const parsed = JSON.parse(text) as { answer: string; confident: boolean };
    expect(["yes", "no"]).toContain(parsed.answer);
    expect(typeof parsed.confident).toBe("boolean");
  });
});
