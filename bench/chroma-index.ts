/**
 * Query latency of the centroid indexes: the in-process MemoryIndex against ChromaIndex on a real
 * Chroma server over HTTP, at 6 vectors (one centroid per expert) and 10,000 vectors (the knn
 * strategy's example prompts), dimension 1024.
 *
 *     npx tsx bench/chroma-index.ts [--queries 300] [--k 3] [--dimension 1024] [--sizes 6,10000]
 *
 * Starts its own Chroma server (scripts/chroma-server.ts) unless CHROMA_URL is set. Prints the
 * upsert time, then query p50/p99 per index and size. The machine is shared and noisy: compare
 * rows of one run, not numbers across runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, startChroma } from "../scripts/chroma-server.js";
import type { CentroidIndex, IndexEntry } from "../src/core/centroid-index.js";
import { l2Normalize } from "../src/core/vector-math.js";
import { ChromaIndex } from "../src/providers/indexes/chroma.js";
import { MemoryIndex } from "../src/providers/indexes/memory.js";

const { values: args } = parseArgs({
  options: {
    queries: { type: "string", default: "300" },
    k: { type: "string", default: "3" },
    dimension: { type: "string", default: "1024" },
    sizes: { type: "string", default: "6,10000" },
  },
});
const queries = Number(args.queries);
const k = Number(args.k);
const dimension = Number(args.dimension);
const sizes = args.sizes.split(",").map(Number);

/** Deterministic unit vectors (xorshift32), so every run measures the same data. */
function vectors(count: number, seed: number): Float32Array[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296 - 0.5;
  };
  return Array.from({ length: count }, () => l2Normalize(Float32Array.from({ length: dimension }, next)));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(index: CentroidIndex, size: number): Promise<string> {
  const collection = `bench-${index.kind}-${size}-${dimension}-${process.pid}`;
  const entries: IndexEntry[] = vectors(size, size).map((vector, i) => ({
    id: `v${i}`,
    expert: `expert-${i % 6}`,
    vector,
  }));
  await index.remove(collection);
  const upsertStart = performance.now();
  await index.upsert(collection, entries);
  const upsertMs = performance.now() - upsertStart;
  const probes = vectors(queries + 20, 7 + size);
  for (const probe of probes.slice(0, 20)) await index.query(collection, probe, k); // warm-up
  const times: number[] = [];
  for (const probe of probes.slice(20)) {
    const start = performance.now();
    await index.query(collection, probe, k);
    times.push(performance.now() - start);
  }
  await index.remove(collection);
  times.sort((a, b) => a - b);
  return [
    index.kind.padEnd(7),
    String(size).padStart(6),
    `${(upsertMs / 1000).toFixed(2)} s`.padStart(10),
    `${percentile(times, 50).toFixed(2)} ms`.padStart(10),
    `${percentile(times, 99).toFixed(2)} ms`.padStart(10),
  ].join("  ");
}

let stopServer = async () => {};
let url = process.env.CHROMA_URL;
const dataDir = mkdtempSync(join(tmpdir(), "herd-bench-chroma-"));
if (!url) {
  const server = await startChroma({
    port: await freePort(),
    path: join(dataDir, "data"),
    logFile: join(dataDir, "log"),
  });
  url = server.url;
  stopServer = server.stop;
  console.log(`Chroma ${server.mode} at ${url}`);
}
try {
  console.log(`dimension ${dimension}, k ${k}, ${queries} queries after 20 warm-up, one at a time`);
  console.log(["index  ", "  size", "    upsert", "query p50", " query p99"].join("  "));
  for (const size of sizes) {
    for (const index of [new MemoryIndex(), new ChromaIndex({ url })])
      console.log(await measure(index, size));
  }
} finally {
  await stopServer();
  rmSync(dataDir, { recursive: true, force: true });
}
