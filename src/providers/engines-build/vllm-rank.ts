import { ConfigError } from "../../core/errors.js";

/** The values vLLM accepts for `--max-lora-rank` (vllm/config/lora.py). */
export const VLLM_LORA_RANKS = [1, 8, 16, 32, 64, 128, 256, 320, 512] as const;

/**
 * The smallest `--max-lora-rank` vLLM accepts that holds an adapter of rank `rank`.
 * @throws ConfigError naming `adapter` when the rank is above vLLM's largest (512)
 */
export function vllmMaxLoraRank(rank: number, adapter = "an adapter"): number {
  const fit = VLLM_LORA_RANKS.find((r) => r >= rank);
  if (fit === undefined) {
    throw new ConfigError(
      `${adapter} has rank ${rank}, above vLLM's largest --max-lora-rank (${VLLM_LORA_RANKS.at(-1)}). ` +
        "A blend's rank is the sum of its experts' ranks: build fewer blends (--pairs), use lower-rank experts, " +
        "or serve blends from an engine that mixes adapters per request (llama-server, LoRAX --native-merge).",
      "max-lora-rank",
    );
  }
  return fit;
}
