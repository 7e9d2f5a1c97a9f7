import type { LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import type { TokenLogprob } from "../../core/chat.js";

/** Positions scored per evaluation: bounds the probability maps held at once (one per position). */
const CHUNK = 16;
/** The log-probability reported for a token of probability 0 (OpenAI's floor). */
const FLOOR = -9999;

/**
 * The log-probability of each generated token, and the `top` most likely tokens at each position,
 * from the model's next-token distributions: the prompt and the answer are evaluated again on the
 * (cleared) sequence, since node-llama-cpp's chat generation does not report probabilities.
 * `prompt` is what the chat wrapper rendered; `output` the tokens the generation produced.
 */
export async function scoreTokens(
  sequence: LlamaContextSequence,
  model: LlamaModel,
  prompt: readonly Token[],
  output: readonly Token[],
  top: number,
  signal?: AbortSignal,
): Promise<TokenLogprob[]> {
  if (output.length === 0 || prompt.length === 0) return [];
  await sequence.clearHistory();
  const probe = { generateNext: { probabilities: true } } as const;
  // Position i's distribution predicts output[i]: it follows the prompt and output[0..i-1].
  const inputs: Token[] = [...prompt, ...output.slice(0, -1)];
  const first = prompt.length - 1;
  if (first > 0) await sequence.controlledEvaluate(inputs.slice(0, first));
  const out: TokenLogprob[] = [];
  for (let start = first; start < inputs.length; start += CHUNK) {
    signal?.throwIfAborted();
    const slice = inputs.slice(start, start + CHUNK);
    const results = await sequence.controlledEvaluate(slice.map((t) => [t, probe] as [Token, typeof probe]));
    results.forEach((result, k) => {
      const probabilities = result?.next?.probabilities;
      const token = output[start - first + k]!;
      const entry: TokenLogprob = {
        token: model.detokenize([token]),
        logprob: logOf(probabilities?.get(token) ?? 0),
      };
      if (top > 0 && probabilities) {
        entry.topLogprobs = [];
        for (const [id, p] of probabilities) {
          if (entry.topLogprobs.length >= top) break;
          entry.topLogprobs.push({ token: model.detokenize([id]), logprob: logOf(p) });
        }
      }
      out.push(entry);
    });
  }
  return out;
}

function logOf(p: number): number {
  return p > 0 ? Math.max(Math.log(p), FLOOR) : FLOOR;
}
