import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileFormatError } from "../../src/core/errors.js";
import { LlamaCppEmbedder, writeTinyModel } from "../../src/providers/llamacpp/index.js";

/** The llamacpp embedder on real llama.cpp with the generated tiny model. */

let dir: string;
let modelPath: string;
let embedder: LlamaCppEmbedder;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-llamacpp-embed-"));
  modelPath = join(dir, "tiny-embed.gguf");
  await writeTinyModel(modelPath, { seed: "embed" });
  embedder = new LlamaCppEmbedder({ modelPath, threads: 1 });
});

afterAll(async () => {
  await embedder?.close();
  await rm(dir, { recursive: true, force: true });
});

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

describe("LlamaCppEmbedder", () => {
  it("returns one L2-normalized vector per text, in order, of the model's dimension", async () => {
    const texts = ["How do I sort a list in Python?", "What is the integral of x^2?", ""];
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(3);
    expect(await embedder.dimension()).toBe(64);
    for (const v of vectors) {
      expect(v).toHaveLength(64);
      expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 5);
    }
    expect(dot(vectors[0]!, vectors[1]!)).toBeLessThan(0.9999);
    const [again] = await embedder.embed([texts[1]!]);
    expect([...again!]).toEqual([...vectors[1]!]);
  });

  it("concurrent calls give the same vectors as sequential ones", async () => {
    const texts = ["alpha", "beta gamma", "the delta"];
    const sequential = await embedder.embed(texts);
    const concurrent = await Promise.all(texts.map((t) => embedder.embed([t])));
    expect(concurrent.map(([v]) => [...v!])).toEqual(sequential.map((v) => [...v]));
  });

  it("texts longer than the context are cut instead of failing", async () => {
    const [v] = await embedder.embed(["word ".repeat(2000)]);
    expect(v).toHaveLength(64);
  });

  it("has an id naming the model file and its content", async () => {
    expect(embedder.id).toMatch(/^llamacpp-tiny-embed-[0-9a-f]{8}$/);
    const other = join(dir, "tiny-embed-2.gguf");
    await writeTinyModel(other, { seed: "other" });
    const otherId = new LlamaCppEmbedder({ modelPath: other }).id;
    expect(otherId.split("-").at(-1)).not.toBe(embedder.id.split("-").at(-1));
  });

  it("a missing model file is a FileFormatError naming the path", () => {
    const path = join(dir, "nope.gguf");
    expect(() => new LlamaCppEmbedder({ modelPath: path })).toThrow(FileFormatError);
    expect(() => new LlamaCppEmbedder({ modelPath: path })).toThrow(path);
  });
});
