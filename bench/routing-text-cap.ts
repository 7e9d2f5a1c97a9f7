/**
 * Routing time for a short prompt and a 4 MB one (issue 10 item 6: the routing text cap).
 *
 *   npx tsx bench/routing-text-cap.ts [--experts DIR] [--runs 5]
 *
 * Routes with the offline hashing embedder and the memory index, so only Herd's own work is timed.
 * With the cap (router option `maxTextChars`, default 8000) both take about the same time.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadExpertSet } from "../src/core/experts.js";
import { Router } from "../src/core/router.js";
import { HashingEmbedder } from "../src/providers/embedders/hashing.js";
import { MemoryIndex } from "../src/providers/indexes/memory.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  options: {
    experts: { type: "string", default: join(repo, "experts") },
    runs: { type: "string", default: "5" },
  },
});
const runs = Number(args.runs);
const experts = await loadExpertSet(args.experts);
const router = new Router({ experts, embedder: new HashingEmbedder(), index: new MemoryIndex() });
await router.prepare();

const prompts = {
  short: "Write a python function that sorts a list of dictionaries by a key.",
  "4 MB": `Write a poem about the sea. ${"lorem ipsum dolor sit amet ".repeat(150_000)} End with a haiku.`,
};
for (const [name, prompt] of Object.entries(prompts)) {
  await router.route(prompt);
  const started = performance.now();
  for (let i = 0; i < runs; i++) await router.route(prompt);
  const ms = (performance.now() - started) / runs;
  console.log(`${name.padEnd(6)} ${String(prompt.length).padStart(8)} chars  ${ms.toFixed(2)} ms per route`);
}
