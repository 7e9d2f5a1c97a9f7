/**
 * What the metrics plugin costs per request, in process (no HTTP, no backend latency to hide it).
 *
 *     npx tsx bench/metrics.ts [--requests 20000] [--rounds 5]
 *
 * A Herd on the hashing embedder and memory index with an in-memory chat provider that answers at
 * once (three chunks and usage): without plugins, with the metrics plugin, and with metrics and
 * tracing as `herd serve` runs them (no tracer provider registered: tracing records nothing). Rounds
 * alternate so machine noise hits all alike; prints CPU µs per request (median of the rounds) and
 * the differences. bench/facade.ts shows the same over HTTP ("herd + metrics" rows).
 */
import { parseArgs } from "node:util";
import type { ChatChunk, ChatProvider, ChatRequest } from "../src/core/chat.js";
import { TOKENS } from "../src/core/tokens.js";
import { createHerd, type Herd } from "../src/herd.js";

const { values: args } = parseArgs({
  options: { requests: { type: "string", default: "20000" }, rounds: { type: "string", default: "5" } },
});
const requests = Number(args.requests);
const rounds = Number(args.rounds);

/** Answers at once: two text chunks and a finish chunk with usage. */
const instant: ChatProvider = {
  name: "instant",
  capabilities: { nativeBlend: false, tools: true, jsonSchema: true },
  async *stream(request: ChatRequest): AsyncGenerator<ChatChunk> {
    yield { type: "text", text: `${request.target.model}: ` };
    yield { type: "text", text: "ok" };
    yield { type: "finish", finishReason: "stop", usage: { inputTokens: 12, outputTokens: 2 } };
  },
  async health() {},
};

async function herdWith(plugins: string[]): Promise<Herd> {
  return createHerd(
    { embedder: { name: "hashing" }, index: { name: "memory" }, plugins },
    { configure: (c) => c.rebind(TOKENS.ChatProvider).toConstantValue(instant) },
  );
}

const prompts = [
  "Write a Python function that reverses a list.",
  "Write a poem about the autumn sea.",
  "Prove that the square root of 2 is irrational.",
  "What is the capital of France?",
];

/** CPU microseconds per request over `n` sequential requests. */
async function measure(herd: Herd, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    await herd.generate({
      messages: [{ role: "user", content: prompts[i % prompts.length]! }],
      model: "herd",
    });
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const plain = await herdWith([]);
const measured = await herdWith(["metrics"]);
const served = await herdWith(["metrics", "tracing"]);
await measure(plain, 2000);
await measure(measured, 2000);
await measure(served, 2000);
const without: number[] = [];
const withMetrics: number[] = [];
const withBoth: number[] = [];
for (let r = 0; r < rounds; r++) {
  without.push(await measure(plain, requests));
  withMetrics.push(await measure(measured, requests));
  withBoth.push(await measure(served, requests));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const a = median(without);
const b = median(withMetrics);
console.log(`metrics plugin cost, ${rounds} alternating rounds of ${requests} in-process requests`);
console.log(
  `  without plugins     ${a.toFixed(1)} µs CPU per request (rounds: ${without.map((x) => x.toFixed(1)).join(", ")})`,
);
console.log(
  `  with metrics        ${b.toFixed(1)} µs CPU per request (rounds: ${withMetrics.map((x) => x.toFixed(1)).join(", ")})`,
);
console.log(
  `  metrics add         ${(b - a).toFixed(1)} µs per request (${(((b - a) / a) * 100).toFixed(1)}%)`,
);
const c = median(withBoth);
console.log(
  `  metrics + tracing   ${c.toFixed(1)} µs CPU per request (rounds: ${withBoth.map((x) => x.toFixed(1)).join(", ")})`,
);
console.log(
  `  both add            ${(c - a).toFixed(1)} µs per request (${(((c - a) / a) * 100).toFixed(1)}%)`,
);
await plain.close();
await measured.close();
await served.close();
