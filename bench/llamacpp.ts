/**
 * The embedded llama.cpp provider on a generated llama model with 6 LoRA experts.
 *
 *     npx tsx bench/llamacpp.ts [--tokens 128] [--runs 3] [--threads 1]
 *                               [--embedding 64] [--blocks 2] [--ff 128] [--rank 8]
 *
 * Prints, for the base model, one adapter and a 0.7/0.3 blend of two: time to first token and
 * decode tokens/s (median of the runs, greedy, after one warm-up that creates the context); the
 * cost of switching adapter sets per request with cached contexts and with a 1-context cache
 * (every switch creates a context); and RSS after loading the runtime, the model, and 6 experts
 * each in its own context plus a 6-expert blend. Grow the model with --embedding/--blocks/--ff
 * (e.g. --embedding 512 --blocks 8 --ff 1376) to see costs closer to a real small model.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { ChatRequest, GenerationTarget } from "../src/core/chat.js";
import { createDemoAssets, LlamaCppChatProvider } from "../src/providers/llamacpp/index.js";

const { values: args } = parseArgs({
  options: {
    tokens: { type: "string", default: "128" },
    runs: { type: "string", default: "3" },
    threads: { type: "string", default: "1" },
    embedding: { type: "string", default: "64" },
    blocks: { type: "string", default: "2" },
    ff: { type: "string", default: "128" },
    rank: { type: "string", default: "8" },
  },
});
const maxTokens = Number(args.tokens);
const runs = Number(args.runs);
const threads = Number(args.threads);
const model = {
  embeddingLength: Number(args.embedding),
  blockCount: Number(args.blocks),
  feedForwardLength: Number(args.ff),
  contextLength: Math.max(256, maxTokens + 64),
};
const experts = ["code", "math", "writing", "chat", "science", "history"];

const mb = () => (process.memoryUsage().rss / 2 ** 20).toFixed(0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const target = (adapters: GenerationTarget["adapters"]): GenerationTarget => ({
  model: "bench",
  base: adapters.length === 0,
  adapters,
});
const request = (t: GenerationTarget, tokens = maxTokens): ChatRequest => ({
  target: t,
  messages: [{ role: "user", content: "Tell me about the sea and the ships on it." }],
  // A repetition penalty keeps the random model from looping into its end-of-text token early.
  params: { maxTokens: tokens, repetitionPenalty: 1.3 },
});

/** Time to first text chunk, and decode tokens/s after it. */
async function measure(provider: LlamaCppChatProvider, t: GenerationTarget) {
  const start = performance.now();
  let first = 0;
  let outputTokens = 0;
  for await (const chunk of provider.stream(request(t))) {
    if (chunk.type === "text" && first === 0) first = performance.now();
    if (chunk.type === "finish") outputTokens = chunk.usage?.outputTokens ?? 0;
  }
  const end = performance.now();
  return { ttft: first - start, tps: (outputTokens - 1) / ((end - first) / 1000), outputTokens };
}

/** Mean ms per 1-token request, cycling through the targets. */
async function perRequest(provider: LlamaCppChatProvider, targets: GenerationTarget[], rounds: number) {
  const start = performance.now();
  for (let i = 0; i < rounds; i++)
    for (const t of targets) for await (const _ of provider.stream(request(t, 1)));
  return (performance.now() - start) / (rounds * targets.length);
}

const dir = await mkdtemp(join(tmpdir(), "herd-bench-llamacpp-"));
try {
  const rssStart = mb();
  let t0 = performance.now();
  const assets = await createDemoAssets(dir, experts, { model, lora: { rank: Number(args.rank) } });
  const writeMs = performance.now() - t0;
  console.log(
    `model E=${model.embeddingLength} blocks=${model.blockCount} ff=${model.feedForwardLength}, ` +
      `6 adapters rank ${args.rank}: written in ${writeMs.toFixed(0)} ms; threads ${threads}, ${maxTokens} tokens, ${runs} runs`,
  );

  const provider = new LlamaCppChatProvider({
    modelPath: assets.modelPath,
    adapters: assets.adapters,
    threads,
    maxContexts: 8,
  });
  t0 = performance.now();
  await provider.health();
  console.log(`load runtime + model + validate adapters: ${(performance.now() - t0).toFixed(0)} ms`);
  const rssModel = mb();

  console.log("\ngeneration            TTFT ms   tok/s   tokens");
  const cases: [string, GenerationTarget][] = [
    ["base", target([])],
    ["one adapter", target([{ expert: "code", scale: 1 }])],
    [
      "blend 0.7/0.3",
      target([
        { expert: "code", scale: 0.7 },
        { expert: "math", scale: 0.3 },
      ]),
    ],
  ];
  for (const [label, t] of cases) {
    await measure(provider, t);
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await measure(provider, t));
    console.log(
      `${label.padEnd(20)} ${median(results.map((r) => r.ttft))
        .toFixed(1)
        .padStart(8)} ` +
        `${median(results.map((r) => r.tps))
          .toFixed(0)
          .padStart(7)} ${String(median(results.map((r) => r.outputTokens))).padStart(8)}`,
    );
  }

  const switching = [target([{ expert: "code", scale: 1 }]), target([{ expert: "math", scale: 1 }])];
  const cachedMs = await perRequest(provider, switching, 10);
  const oneContext = new LlamaCppChatProvider({
    modelPath: assets.modelPath,
    adapters: assets.adapters,
    threads,
    maxContexts: 1,
  });
  await oneContext.health();
  const uncachedMs = await perRequest(oneContext, switching, 10);
  await oneContext.close();
  console.log(
    `\nswitching adapter sets, 1-token requests: cached contexts ${cachedMs.toFixed(1)} ms/request, ` +
      `uncached (maxContexts 1) ${uncachedMs.toFixed(1)} ms/request, difference ${(uncachedMs - cachedMs).toFixed(1)} ms`,
  );

  for (const e of experts)
    for await (const _ of provider.stream(request(target([{ expert: e, scale: 1 }]), 1)));
  for await (const _ of provider.stream(
    request(target(experts.map((e) => ({ expert: e, scale: 1 / 6 }))), 1),
  ));
  const rssExperts = mb();
  console.log(
    `\nRSS MB: start ${rssStart}, runtime + model ${rssModel}, ` +
      `+ 6 experts loaded (8 contexts cached: 6 single + a 6-blend + one earlier) ${rssExperts}`,
  );
  await provider.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
