import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExpertSet } from "../../src/core/expert.js";
import { loadExpertSet } from "../../src/core/experts.js";
import { Router } from "../../src/core/router.js";
import type { RoutingDecision } from "../../src/core/routing.js";
import { HashingEmbedder } from "../../src/providers/embedders/hashing.js";
import { ChromaIndex } from "../../src/providers/indexes/chroma.js";
import { MemoryIndex } from "../../src/providers/indexes/memory.js";
import { chromaUrl, uniqueCollection } from "../helpers/chroma.js";

/** Prompts users would send, one of each kind, plus a few from the calibration file when it is there. */
const OWN_PROMPTS = [
  "Write a TypeScript function that debounces another function.",
  "Compose a sea shanty about a lighthouse keeper who hates the ocean.",
  "Sally has 3 brothers. Each brother has 2 sisters. How many sisters does Sally have? Think step by step.",
  "Given the tools search(query) and calculator(expr), plan the steps to find the population density of Peru.",
  "Which planet has the most moons?",
  "Read the passage and answer: BEGININPUT The river froze in 1812. ENDINPUT When did the river freeze?",
];

async function prompts(): Promise<string[]> {
  const file = resolve("../shared/data/routing/calibration.jsonl");
  const text = await readFile(file, "utf8").catch(() => "");
  const extra = text
    .split("\n")
    .filter(Boolean)
    .slice(0, 40)
    .map((l) => (JSON.parse(l) as { prompt: string }).prompt);
  return [...OWN_PROMPTS, ...extra];
}

function summary(d: RoutingDecision) {
  return {
    ranked: d.ranked.map((e) => e.name),
    selected: d.selected.map((e) => [e.name, e.weight]),
    model: d.model,
    reason: d.reason,
  };
}

describe("memory and Chroma indexes give the same routing decisions", () => {
  let experts: ExpertSet;
  let chroma: ChromaIndex;

  beforeAll(async () => {
    experts = await loadExpertSet(resolve("experts"));
    chroma = new ChromaIndex({ url: chromaUrl(), collectionPrefix: uniqueCollection("parity") });
  });

  afterAll(async () => {
    await chroma?.close?.();
  });

  it.each(["centroid", "knn"] as const)("%s strategy, top-1 and top-2 blends", async (strategy) => {
    const embedder = HashingEmbedder.fit(experts.experts.flatMap((e) => e.examples));
    const viaMemory = new Router({
      experts,
      embedder,
      index: new MemoryIndex(),
      options: { strategy, k: 5 },
    });
    const viaChroma = new Router({ experts, embedder, index: chroma, options: { strategy, k: 5 } });
    for (const prompt of await prompts()) {
      for (const topExperts of [1, 2]) {
        const a = await viaMemory.route(prompt, { topExperts });
        const b = await viaChroma.route(prompt, { topExperts });
        expect(summary(b), prompt).toEqual({
          ...summary(a),
          selected: a.selected.map((e) => [e.name, expect.closeTo(e.weight, 5)]),
        });
        b.ranked.forEach((e, i) => {
          expect(e.distance, `${prompt} / ${e.name}`).toBeCloseTo(a.ranked[i]!.distance, 5);
        });
      }
    }
  });
});
