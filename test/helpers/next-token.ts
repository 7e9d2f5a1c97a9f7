import type { LlamaModel } from "node-llama-cpp";

/** One LoRA adapter file at a scale, as node-llama-cpp takes it. */
export interface ScaledAdapter {
  filePath: string;
  scale: number;
}

/**
 * The model's next-token distribution after `prompt`, with these adapters applied (a fresh
 * single-thread context each time, disposed after).
 */
export async function nextTokenProbabilities(
  model: LlamaModel,
  prompt: string,
  lora: readonly ScaledAdapter[],
): Promise<Map<number, number>> {
  const context = await model.createContext({
    threads: 1,
    ...(lora.length ? { lora: { adapters: [...lora] } } : {}),
  });
  try {
    const tokens = model.tokenize(prompt);
    const out = await context
      .getSequence()
      .controlledEvaluate([
        ...tokens.slice(0, -1),
        [tokens.at(-1)!, { generateNext: { probabilities: true } }],
      ]);
    return out.at(-1)!.next!.probabilities!;
  } finally {
    await context.dispose();
  }
}

/** The largest difference between two distributions over token ids (a missing id counts as 0). */
export function maxDifference(p: Map<number, number>, q: Map<number, number>): number {
  let max = 0;
  for (const id of new Set([...p.keys(), ...q.keys()]))
    max = Math.max(max, Math.abs((p.get(id) ?? 0) - (q.get(id) ?? 0)));
  return max;
}
