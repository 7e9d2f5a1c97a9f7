import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Embedder } from "../../../src/core/embedder.js";
import { InvalidInputError } from "../../../src/core/errors.js";
import type { Expert, ExpertSet } from "../../../src/core/expert.js";
import { LinearModelStore, trainLinearRouter } from "../../../src/core/linear-store.js";
import { Router } from "../../../src/core/router.js";
import {
  classWeights,
  featureMatrix,
  matrixLogits,
  trainSoftmaxRegression,
} from "../../../src/core/routing/softmax-regression.js";
import { l2Normalize } from "../../../src/core/vector-math.js";
import { HashingEmbedder } from "../../../src/providers/embedders/hashing.js";
import { MemoryIndex } from "../../../src/providers/indexes/memory.js";

function expert(name: string, examples: string[]): Expert {
  return { name, description: "", categories: [], adapter: `${name}.gguf`, model: `herd-${name}`, examples };
}

const experts: ExpertSet = {
  baseModel: "base",
  experts: [
    expert("code", [
      "Write a Python function that reverses a list",
      "Fix this JavaScript bug in my React component",
      "Write a SQL query that joins two tables",
      "Implement a binary search function in Go",
      "Why does my Python script raise a KeyError?",
      "Write a bash script that renames files",
    ]),
    expert("creative", [
      "Write a poem about the sea at night",
      "Tell me a short story about a dragon who is afraid of fire",
      "Write song lyrics about a summer romance",
      "Compose a haiku about autumn leaves",
      "Write a fairy tale about a lost crown",
      "Write a limerick about a clumsy cat",
    ]),
    expert("reasoning", [
      "A train travels 120 km in 2 hours. What is its average speed? Show your work.",
      "If all bloops are razzies and all razzies are lazzies, are all bloops lazzies? Explain.",
      "Tom is taller than Ann and Ann is taller than Joe. Who is the shortest? Reason step by step.",
      "A shop sells pens at $3 each. How much do 7 pens cost after a 10% discount?",
      "How many handshakes happen when 6 people each shake hands once? Explain your reasoning.",
      "If today is Monday, what day is it in 10 days? Think step by step.",
    ]),
  ],
};

function router(options: Partial<ConstructorParameters<typeof Router>[0]> = {}): Router {
  const embedder = HashingEmbedder.fit(experts.experts.flatMap((e) => e.examples));
  return new Router({ experts, embedder, index: new MemoryIndex(), linear: { folds: 3 }, ...options });
}

describe("Router (linear strategy, the default)", () => {
  it("routes by calibrated probabilities that sum to 1 and shows its confidence", async () => {
    const r = router();
    const d = await r.route("Write a Python function that parses a CSV file");
    expect(d.strategy).toBe("linear");
    expect(d.weighting).toBe("probability");
    expect(d.selected.map((e) => e.name)).toEqual(["code"]);
    expect(d.model).toBe("herd-code");
    expect(d.ranked.reduce((s, e) => s + e.similarity, 0)).toBeCloseTo(1, 9);
    expect(d.confidence).toBe(d.ranked[0]!.similarity);
    expect(d.ranked[0]!.distance).toBeCloseTo(1 - d.ranked[0]!.similarity, 12);
    expect((await r.route("Write a poem about the moon")).selected[0]!.name).toBe("creative");
    expect(
      (await r.route("A car travels 300 km in 4 hours. What is its average speed? Show your work."))
        .selected[0]!.name,
    ).toBe("reasoning");
  });

  it("blends the top experts with their probabilities, renormalized", async () => {
    const d = await router().route("Write a poem about a Python function", { topExperts: 2 });
    const [a, b] = d.selected;
    expect(a!.weight + b!.weight).toBeCloseTo(1, 12);
    expect(a!.weight / b!.weight).toBeCloseTo(a!.similarity / b!.similarity, 9);
    expect(d.ranked[2]!.weight).toBe(0);
  });

  it("sends a prompt to the base model when the top probability is below the threshold", async () => {
    const r = router({ options: { threshold: 0.999 } });
    const d = await r.route("hello there");
    expect(d.reason).toBe("below-threshold");
    expect(d.selected).toEqual([]);
    expect(d.model).toBe("base");
    expect(d.confidence).toBeLessThan(0.999);
  });

  it("a configured calibration temperature changes the probabilities but not the ranking", async () => {
    const prompt = "Write a haiku about a bug in my code";
    const sharp = await router({ options: { calibrationTemperature: 0.1 } }).route(prompt);
    const soft = await router({ options: { calibrationTemperature: 10 } }).route(prompt);
    expect(sharp.ranked.map((e) => e.name)).toEqual(soft.ranked.map((e) => e.name));
    expect(sharp.confidence!).toBeGreaterThan(soft.confidence!);
    expect(soft.confidence!).toBeLessThan(0.5);
  });

  it("trains deterministically: the same examples give the same model", async () => {
    const embedder = HashingEmbedder.fit(experts.experts.flatMap((e) => e.examples));
    const a = await trainLinearRouter(experts.experts, embedder, { folds: 3 });
    const b = await trainLinearRouter(experts.experts, embedder, { folds: 3 });
    expect(a.manifest.hash).toBe(b.manifest.hash);
    expect(a.manifest.converged).toBe(true);
    expect(a.manifest.temperature).toBe(b.manifest.temperature);
    expect(Array.from(a.model.data.weights)).toEqual(Array.from(b.model.data.weights));
    expect(a.model.sparse).toBe(true);
    expect(a.manifest.features).toMatch(/^sparse:tfidf1-/);
  });

  it("stores the model per embedder, reuses it, and retrains when the examples change", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-linear-"));
    const first = router({ centroidsDir: dir });
    await first.route("Write a poem");
    const embedderId = first.embedderId;
    expect(await readdir(dir)).toEqual([`${embedderId.replaceAll(/[^A-Za-z0-9._-]+/g, "_")}.linear.json`]);
    const stored = (await new LinearModelStore(dir).load(embedderId))!;

    const second = router({ centroidsDir: dir });
    expect((await second.linearModel()).manifest.createdAt).toBe(stored.manifest.createdAt);

    const changed: ExpertSet = {
      ...experts,
      experts: experts.experts.map((e) =>
        e.name === "code" ? { ...e, examples: [...e.examples, "Write a Rust macro"] } : e,
      ),
    };
    const third = router({ centroidsDir: dir, experts: changed });
    const retrained = await third.linearModel();
    expect(retrained.manifest.hash).not.toBe(stored.manifest.hash);
    expect((await new LinearModelStore(dir).load(embedderId))!.manifest.hash).toBe(retrained.manifest.hash);
  });

  it("keeps the model it replaced, so removing an expert just added retrains nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-linear-"));
    const r = router({ centroidsDir: dir });
    const before = (await r.linearModel()).manifest;
    await r.addExpert(expert("astro", ["Point the telescope at the nebula", "How far is that galaxy?"]));
    expect((await r.linearModel()).manifest.classes).toContain("astro");
    await r.removeExpert("astro");
    // A new process (e.g. `herd route` after `herd experts remove`) loads it too.
    const again = router({ centroidsDir: dir });
    for (const model of [await r.linearModel(), await again.linearModel()]) {
      expect(model.manifest).toMatchObject({ hash: before.hash, createdAt: before.createdAt });
    }
  });

  it("names the fix for a corrupt stored model", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-linear-"));
    const r = router({ centroidsDir: dir });
    await writeFile(r.linearModelFile!, "{ not json");
    await expect(r.route("Write a poem")).rejects.toThrow(/Delete it and run `herd centroids`/);
  });

  it("learns over dense embeddings when the embedder has no sparse features", async () => {
    const words = ["python", "function", "poem", "story", "speed", "step"];
    const dense: Embedder = {
      id: "keywords-dense",
      dimension: async () => words.length + 1,
      embed: async (texts) =>
        texts.map((t) => {
          const lower = t.toLowerCase();
          const v = words.map((w) => (lower.includes(w) ? 1 : 0));
          return l2Normalize([...v, 0.1]);
        }),
    };
    const dir = await mkdtemp(join(tmpdir(), "herd-linear-"));
    const r = new Router({ experts, embedder: dense, index: new MemoryIndex(), centroidsDir: dir });
    expect((await r.route("Write a story")).selected[0]!.name).toBe("creative");
    expect((await r.route("a python function")).selected[0]!.name).toBe("code");
    const { manifest } = await r.linearModel();
    expect(manifest).toMatchObject({ features: "dense", rows: words.length + 1, examples: 18 });
    const file = JSON.parse(await readFile(r.linearModelFile!, "utf8")) as { keys?: string };
    expect(file.keys).toBeUndefined();
  });

  it("refuses distance weighting options it would ignore, and warns about them in the config", async () => {
    const r = router();
    await expect(r.route("Write a poem", { weighting: "softmax" })).rejects.toThrow(
      /weighting and temperature apply to the centroid and knn strategies/,
    );
    await expect(r.route("Write a poem", { temperature: 0.1 })).rejects.toThrow(InvalidInputError);
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(String(w.code));
    process.on("warning", onWarning);
    router({ options: { weighting: "softmax" } });
    await new Promise((resolve) => setImmediate(resolve));
    process.off("warning", onWarning);
    expect(warnings).toContain("HERD_LINEAR_IGNORES_WEIGHTING");
  });

  it("routes to an expert added at run time, by words the embedder's corpus never had", async () => {
    const r = router();
    await r.route("Write a poem");
    await r.addExpert(
      expert("astro", [
        "Point the telescope at the Orion nebula tonight",
        "How far is the Andromeda galaxy, and can a telescope see it?",
        "Which nebula is brightest through a small telescope?",
      ]),
    );
    const d = await r.route("Is that faint nebula a galaxy?");
    expect(d.selected[0]!.name).toBe("astro");
    expect((await r.linearModel()).manifest.features).toMatch(/^sparse:tfidf1-.*-corpus-/);
    await r.removeExpert("astro");
    expect((await r.route("Is that faint nebula a galaxy?")).selected[0]!.name).not.toBe("astro");
  });

  it("weighs classes by inverse frequency, so an expert with few examples is still learned", () => {
    // 30 rows of class 0 (feature 0), 2 of class 1 (feature 1 with a little of feature 0).
    const rows = [
      ...Array.from({ length: 30 }, () => ({ indices: [0], values: [1] })),
      ...Array.from({ length: 2 }, () => ({ indices: [0, 1], values: [0.8, 0.6] })),
    ];
    const labels = [...Array(30).fill(0), 1, 1];
    expect(Array.from(classWeights(labels, 2, "balanced"))).toEqual([32 / 60, 32 / 4]);
    expect(Array.from(classWeights(labels, 2, "none"))).toEqual([1, 1]);
    const matrix = featureMatrix(rows, 2);
    const probe = featureMatrix([{ indices: [0, 1], values: [0.8, 0.6] }], 2);
    const minority = (classWeight: "balanced" | "none") => {
      const fit = trainSoftmaxRegression(matrix, labels, 2, { C: 1, classWeight });
      const [z] = matrixLogits(fit, probe);
      return z![1]! - z![0]!;
    };
    expect(minority("none")).toBeLessThan(0);
    expect(minority("balanced")).toBeGreaterThan(0);
  });

  it("still routes by centroid or knn when asked per call", async () => {
    const r = router();
    const d = await r.route("Write a poem about the sea", { strategy: "centroid" });
    expect(d.strategy).toBe("centroid");
    expect(d.selected[0]!.name).toBe("creative");
    expect(d.confidence).toBeGreaterThan(0);
  });
});
