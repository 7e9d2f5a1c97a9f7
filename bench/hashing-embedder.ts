/**
 * Routing accuracy and speed of the offline hashing embedder on the shared routing data.
 *
 *   npx tsx bench/hashing-embedder.ts [--data DIR] [--experts DIR] [--sets calibration,heldout]
 *                                     [--k 5] [--samples N] [--options '{"dimension": 4096}']
 *
 * The embedder is fitted on all the experts' example prompts. Each expert's centroid is the
 * L2-normalized mean of its example embeddings: all of them, and (like `herd build`'s default)
 * a seeded sample of `--samples` per expert. `centroid` routes a prompt to the most similar
 * centroid; `knn` to the expert whose k most similar examples are, on average, most similar.
 * Tune on calibration.jsonl only; heldout.jsonl is the benchmark to report.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { readLabeledData } from "../src/core/evaluation.js";
import { loadExpertSet } from "../src/core/experts.js";
import { centroid, dot, sampleWithoutReplacement } from "../src/core/vector-math.js";
import { HashingEmbedder, type HashingEmbedderOptions } from "../src/providers/embedders/hashing.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  options: {
    data: { type: "string", default: resolve(repo, "../shared/data/routing") },
    experts: { type: "string", default: join(repo, "experts") },
    sets: { type: "string", default: "calibration,heldout" },
    k: { type: "string", default: "5" },
    samples: { type: "string", default: "100" },
    options: { type: "string", default: "{}" },
  },
});
const k = Number(args.k);
const options = JSON.parse(args.options) as HashingEmbedderOptions;

const set = await loadExpertSet(args.experts);
const names = set.experts.map((e) => e.name);
const fitStart = performance.now();
const embedder = HashingEmbedder.fit(
  set.experts.flatMap((e) => e.examples),
  options,
);
const fitMs = performance.now() - fitStart;
const examples = new Map<string, Float32Array[]>();
for (const expert of set.experts) examples.set(expert.name, await embedder.embed(expert.examples));
const centroids = new Map([...examples].map(([name, vectors]) => [name, centroid(vectors)]));
const samples = Number(args.samples);
const sampledCentroids = new Map(
  [...examples].map(([name, vectors]) => [name, centroid(sampleWithoutReplacement(vectors, samples, 42))]),
);

function argmax(scores: Map<string, number>): string {
  let best = "";
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const [name, score] of scores) {
    if (score > bestScore) [best, bestScore] = [name, score];
  }
  return best;
}

function routeCentroid(v: Float32Array): string {
  return argmax(new Map(names.map((n) => [n, dot(v, centroids.get(n)!)])));
}

function routeSampledCentroid(v: Float32Array): string {
  return argmax(new Map(names.map((n) => [n, dot(v, sampledCentroids.get(n)!)])));
}

function routeKnn(v: Float32Array): string {
  const scores = new Map<string, number>();
  for (const [name, vectors] of examples) {
    const sims = vectors.map((e) => dot(v, e)).sort((a, b) => b - a);
    const top = sims.slice(0, k);
    scores.set(name, top.reduce((s, x) => s + x, 0) / top.length);
  }
  return argmax(scores);
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
console.log(
  `embedder ${embedder.id}  (IDF fitted on ${embedder.corpusSize} examples in ${fitMs.toFixed(0)} ms)`,
);
console.log(`experts: ${set.experts.map((e) => `${e.name}=${e.examples.length}`).join(" ")}\n`);

const allPrompts: string[] = [];
for (const name of args.sets.split(",")) {
  const file = join(args.data, `${name}.jsonl`);
  if (!existsSync(file)) {
    console.log(`${name}: ${file} not found, skipped`);
    continue;
  }
  const rows = await readLabeledData(file);
  const vectors = await embedder.embed(rows.map((r) => r.prompt));
  allPrompts.push(...rows.map((r) => r.prompt));
  for (const [strategy, route] of [
    ["centroid", routeCentroid],
    [`centroid/${samples}`, routeSampledCentroid],
    [`knn k=${k}`, routeKnn],
  ] as const) {
    const hits = new Map(names.map((n) => [n, [0, 0]]));
    let correct = 0;
    rows.forEach((row, i) => {
      const ok = route(vectors[i]!) === row.expert;
      correct += ok ? 1 : 0;
      const h = hits.get(row.expert)!;
      h[0]! += ok ? 1 : 0;
      h[1]! += 1;
    });
    const perExpert = [...hits].map(([n, [c, t]]) => `${n} ${c}/${t}`).join("  ");
    console.log(
      `${name.padEnd(12)} ${strategy.padEnd(12)} accuracy ${pct(correct / rows.length)} (${correct}/${rows.length})  ${perExpert}`,
    );
  }
}

// Speed: batch throughput over every prompt and example, then single-prompt latency.
const corpus = [...allPrompts, ...set.experts.flatMap((e) => e.examples)];
const rounds = 3;
const t0 = performance.now();
for (let r = 0; r < rounds; r++) await embedder.embed(corpus);
const seconds = (performance.now() - t0) / 1000;
const latencies: number[] = [];
for (const text of corpus.slice(0, 500)) {
  const t = performance.now();
  await embedder.embed([text]);
  latencies.push(performance.now() - t);
}
latencies.sort((a, b) => a - b);
const at = (p: number): string =>
  latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(3);
const meanChars = Math.round(corpus.reduce((s, t) => s + t.length, 0) / corpus.length);
console.log(
  `\nthroughput ${Math.round((rounds * corpus.length) / seconds)} texts/s (batches of ${corpus.length}, mean ${meanChars} chars)`,
);
console.log(`latency per prompt p50 ${at(0.5)} ms  p90 ${at(0.9)} ms  p99 ${at(0.99)} ms`);
