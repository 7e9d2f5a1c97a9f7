import { createHash } from "node:crypto";
import { mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, type Llama, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MergeOptions, mergeAdapterFiles } from "../../src/providers/adapters/merge.js";
import { writeTinyLora, writeTinyModel } from "../../src/providers/llamacpp/tiny-model.js";
import { maxDifference, nextTokenProbabilities, type ScaledAdapter } from "../helpers/next-token.js";

/**
 * The exact-merge promise checked on real llama.cpp: a context running adapters at scales w_i and a
 * context running the ONE merged adapter give the same next-token distribution.
 */

let dir: string;
let llama: Llama;
let model: LlamaModel;
let modelPath: string;
const adapters: Record<string, string> = {};
const PROMPT = "the quick brown fox";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-merge-llamacpp-"));
  modelPath = join(dir, "tiny.gguf");
  await writeTinyModel(modelPath);
  // Different ranks and alphas, partially overlapping targets.
  const specs = {
    a: { rank: 4, alpha: 8, targets: ["attn_q", "attn_v", "ffn_up"] },
    b: { rank: 8, alpha: 4, targets: ["attn_v", "attn_output", "ffn_down"] },
    c: { rank: 2, alpha: 2, targets: ["attn_q", "attn_k", "ffn_gate"] },
  };
  for (const [name, spec] of Object.entries(specs)) {
    adapters[name] = join(dir, `${name}.gguf`);
    await writeTinyLora(adapters[name]!, {}, { seed: name, ...spec });
  }
  llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
  model = await llama.loadModel({ modelPath });
});

afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** Merges, then names the file by its content hash: llama.cpp caches adapters by path. */
async function merged(weights: Record<string, number>, options: MergeOptions = {}): Promise<string> {
  const temp = join(dir, "merged-tmp.gguf");
  await mergeAdapterFiles(
    temp,
    Object.entries(weights).map(([name, weight]) => ({ path: adapters[name]!, weight })),
    options,
  );
  const hash = createHash("sha256")
    .update(await readFile(temp))
    .digest("hex")
    .slice(0, 16);
  const path = join(dir, `merged-${hash}.gguf`);
  await rename(temp, path);
  return path;
}

/** The next-token distribution after PROMPT with these adapters. */
function nextToken(lora: readonly ScaledAdapter[]): Promise<Map<number, number>> {
  return nextTokenProbabilities(model, PROMPT, lora);
}

describe("a merged adapter on real llama.cpp", () => {
  it("gives the same next-token distribution as the adapters at their scales, within 1e-4", async () => {
    const weights = { a: 0.5, b: 0.3, c: 0.2 };
    const blend = await nextToken(
      Object.entries(weights).map(([n, w]) => ({ filePath: adapters[n]!, scale: w })),
    );
    const one = await nextToken([{ filePath: await merged(weights), scale: 1 }]);
    expect(maxDifference(blend, one)).toBeLessThan(1e-4);
    // The comparison has teeth: the blend is far from the base and from another blend.
    expect(maxDifference(blend, await nextToken([]))).toBeGreaterThan(1e-2);
    const other = await nextToken([{ filePath: await merged({ a: 0.2, b: 0.3, c: 0.5 }), scale: 1 }]);
    expect(maxDifference(blend, other)).toBeGreaterThan(1e-3);
  });

  it("holds for a two-expert grid blend and for a scaled merged adapter", async () => {
    const blend = await nextToken([
      { filePath: adapters.a!, scale: 0.75 },
      { filePath: adapters.b!, scale: 0.25 },
    ]);
    const path = await merged({ a: 0.75, b: 0.25 });
    expect(maxDifference(blend, await nextToken([{ filePath: path, scale: 1 }]))).toBeLessThan(1e-4);
    // Scaling the merged adapter scales every part: 0.5 * (0.75 a + 0.25 b).
    const half = await nextToken([
      { filePath: adapters.a!, scale: 0.375 },
      { filePath: adapters.b!, scale: 0.125 },
    ]);
    expect(maxDifference(half, await nextToken([{ filePath: path, scale: 0.5 }]))).toBeLessThan(1e-4);
  });

  it("holds when one adapter comes as a PEFT folder (converted with the base model)", async () => {
    await mergeAdapterFiles(join(dir, "a-peft"), [{ path: adapters.a!, weight: 1 }], {
      baseModel: modelPath,
    });
    adapters["a-peft"] = join(dir, "a-peft");
    const blend = await nextToken([
      { filePath: adapters.a!, scale: 0.6 },
      { filePath: adapters.b!, scale: 0.4 },
    ]);
    const path = await merged({ "a-peft": 0.6, b: 0.4 }, { baseModel: modelPath });
    expect(maxDifference(blend, await nextToken([{ filePath: path, scale: 1 }]))).toBeLessThan(1e-4);
  });
});
