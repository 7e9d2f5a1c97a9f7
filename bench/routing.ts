/**
 * Routing speed per decision for each strategy, with the default offline (hashing) embedder and the
 * in-process index: p50/p99 wall time and the mean CPU time of `router.route(prompt)`, plus the
 * accuracy on the labeled prompts timed (calibration.jsonl by default: tune on it, never on heldout).
 *
 *   npx tsx bench/routing.ts [--data FILE.jsonl] [--experts DIR] [--rounds 3] [--strategies linear,centroid,knn]
 *
 * Models and centroids are trained/built in memory first (the linear model's training time is
 * printed), so the timings are of routing alone.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { readLabeledData } from "../src/core/evaluation.js";
import { loadExpertSet } from "../src/core/experts.js";
import { Router } from "../src/core/router.js";
import type { RoutingStrategy } from "../src/core/routing.js";
import { HashingEmbedder } from "../src/providers/embedders/hashing.js";
import { MemoryIndex } from "../src/providers/indexes/memory.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  options: {
    data: { type: "string", default: resolve(repo, "../shared/data/routing/calibration.jsonl") },
    experts: { type: "string", default: join(repo, "experts") },
    rounds: { type: "string", default: "3" },
    strategies: { type: "string", default: "linear,centroid,centroid-all,knn" },
  },
});
const rounds = Math.max(1, Number(args.rounds));
const set = await loadExpertSet(args.experts);
const rows = await readLabeledData(args.data);
const embedder = HashingEmbedder.fit(set.experts.flatMap((e) => e.examples));
console.log(
  `${rows.length} prompts from ${args.data}, ${rounds} rounds; embedder ${embedder.id}; ${set.experts.reduce((n, e) => n + e.examples.length, 0)} examples`,
);

const setups: Record<string, { strategy: RoutingStrategy; samples?: number }> = {
  linear: { strategy: "linear" },
  centroid: { strategy: "centroid" },
  "centroid-all": { strategy: "centroid", samples: 100_000 },
  knn: { strategy: "knn" },
};

for (const name of args.strategies.split(",")) {
  const setup = setups[name];
  if (!setup) throw new Error(`Unknown strategy "${name}"; use ${Object.keys(setups).join(", ")}.`);
  const router = new Router({
    experts: set,
    embedder,
    index: new MemoryIndex(),
    options: { strategy: setup.strategy, k: 5 },
    build: setup.samples ? { samples: setup.samples } : {},
  });
  const prepareStart = performance.now();
  await router.prepare();
  const prepareMs = performance.now() - prepareStart;
  const train = setup.strategy === "linear" ? (await router.linearModel()).manifest : undefined;
  // One untimed pass first: the timings are of routing in a warm process, not of JIT compilation
  // or of collecting the training's garbage.
  for (const row of rows) await router.route(row.prompt);
  let correct = 0;
  const wall: number[] = [];
  const cpu = process.cpuUsage();
  for (let round = 0; round < rounds; round++) {
    for (const row of rows) {
      const t = performance.now();
      const decision = await router.route(row.prompt);
      wall.push(performance.now() - t);
      if (round === 0 && decision.selected[0]?.name === row.expert) correct++;
    }
  }
  const used = process.cpuUsage(cpu);
  wall.sort((a, b) => a - b);
  const at = (p: number) => (1000 * wall[Math.min(wall.length - 1, Math.floor(p * wall.length))]!).toFixed(0);
  const cpuUs = (used.user + used.system) / wall.length;
  let features = "";
  if (setup.strategy === "linear" && embedder.sparseFeatures) {
    const start = process.cpuUsage();
    for (let round = 0; round < rounds; round++) for (const row of rows) embedder.sparseFeatures(row.prompt);
    const spent = process.cpuUsage(start);
    features = ` (features ${((spent.user + spent.system) / (rounds * rows.length)).toFixed(0)} us)`;
  }
  const extra = train
    ? `  (trained in ${(train.trainMs / 1000).toFixed(1)} s: ${train.examples} examples, ${train.rows} features, ${train.iterations} iterations, T=${train.temperature.toFixed(3)})`
    : `  (prepared in ${(prepareMs / 1000).toFixed(1)} s)`;
  console.log(
    `${name.padEnd(13)} p50 ${at(0.5).padStart(6)} us  p99 ${at(0.99).padStart(6)} us  cpu ${cpuUs.toFixed(0).padStart(6)} us/decision${features}  accuracy ${((100 * correct) / rows.length).toFixed(1)}%${extra}`,
  );
}
