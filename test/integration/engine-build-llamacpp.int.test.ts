import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, type Llama, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExpertSet } from "../../src/core/experts.js";
import { mergeAdapterFiles } from "../../src/providers/adapters/merge.js";
import { buildForEngine } from "../../src/providers/engines-build/index.js";
import { maxDifference, nextTokenProbabilities, type ScaledAdapter } from "../helpers/next-token.js";
import { writeTinyExperts } from "../unit/engines-build/fixtures.js";

/**
 * The files `herd build --engine` writes load in real llama.cpp and act as the experts do: the
 * llama-server layout's GGUF files (converted from PEFT experts) at the scales Herd sends per
 * request, and vLLM's merged blend folder (converted back to GGUF here) at scale 1.
 */

let dir: string;
let llama: Llama;
let model: LlamaModel;
const PROMPT = "the quick brown fox";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-engine-build-llamacpp-"));
  // The originals: GGUF experts written by the tiny-model helper (dir/code.gguf, dir/math.gguf).
  await writeTinyExperts(dir, "peft");
  llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
  model = await llama.loadModel({ modelPath: join(dir, "base.gguf") });
});

afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** The next-token distribution after PROMPT with these adapters. */
function nextToken(lora: readonly ScaledAdapter[]): Promise<Map<number, number>> {
  return nextTokenProbabilities(model, PROMPT, lora);
}

describe("engine builds on real llama.cpp", () => {
  it("llama-server layout: the converted GGUF adapters load and blend at per-request scales like the originals", async () => {
    const expertsDir = join(dir, "experts");
    const report = await buildForEngine(await loadExpertSet(expertsDir), {
      engine: "llama-server",
      expertsDir,
      outDir: join(dir, "llama-server"),
    });
    const [code, math] = report.launch!.adapters.map((a) => a.path);
    expect(report.launch!.adapters.map((a) => [a.id, a.name])).toEqual([
      [0, "herd-code"],
      [1, "herd-math"],
    ]);
    const original = { code: join(dir, "code.gguf"), math: join(dir, "math.gguf") };
    const alone = await nextToken([{ filePath: code!, scale: 1 }]);
    expect(maxDifference(alone, await nextToken([{ filePath: original.code, scale: 1 }]))).toBeLessThan(1e-4);
    expect(maxDifference(alone, await nextToken([]))).toBeGreaterThan(1e-2);
    const blend = await nextToken([
      { filePath: code!, scale: 0.75 },
      { filePath: math!, scale: 0.25 },
    ]);
    const expected = await nextToken([
      { filePath: original.code, scale: 0.75 },
      { filePath: original.math, scale: 0.25 },
    ]);
    expect(maxDifference(blend, expected)).toBeLessThan(1e-4);
    expect(maxDifference(blend, alone)).toBeGreaterThan(1e-3);
  });

  it("vLLM layout: the merged blend folder equals its experts at the blend's weights", async () => {
    const expertsDir = join(dir, "experts");
    const report = await buildForEngine(await loadExpertSet(expertsDir), {
      engine: "vllm",
      expertsDir,
      outDir: join(dir, "vllm"),
      model: "org/tiny",
      grid: 0.25,
    });
    const blend = report.launch!.adapters.find((a) => a.name === "herd-blend-code-math-75-25")!;
    expect(blend.rank).toBe(12);
    const gguf = join(dir, "blend-75-25.gguf");
    await mergeAdapterFiles(gguf, [{ path: blend.path, weight: 1 }], { baseModel: join(dir, "base.gguf") });
    const expected = await nextToken([
      { filePath: join(dir, "code.gguf"), scale: 0.75 },
      { filePath: join(dir, "math.gguf"), scale: 0.25 },
    ]);
    expect(maxDifference(await nextToken([{ filePath: gguf, scale: 1 }]), expected)).toBeLessThan(1e-4);
  });
});
