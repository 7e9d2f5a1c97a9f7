import { isAbsolute, join } from "node:path";
import { ExpertConfigError } from "../../core/errors.js";
import type { ExpertSet } from "../../core/expert.js";

/**
 * Maps each expert to its GGUF LoRA file (the `adapter` field of experts.json, relative to the
 * experts folder), for `LlamaCppChatProviderOptions.adapters`.
 * @throws ExpertConfigError when an expert's adapter is not a .gguf file
 */
export function ggufAdaptersFromExperts(experts: ExpertSet, expertsDir: string): Record<string, string> {
  const adapters: Record<string, string> = {};
  for (const expert of experts.experts) {
    if (!expert.adapter.toLowerCase().endsWith(".gguf")) {
      throw new ExpertConfigError(
        `Expert "${expert.name}" has adapter "${expert.adapter}", but llama.cpp needs a GGUF LoRA file. Convert it (e.g. herd's adapter conversion or llama.cpp convert_lora_to_gguf.py) and point "adapter" at the .gguf file.`,
      );
    }
    adapters[expert.name] = isAbsolute(expert.adapter) ? expert.adapter : join(expertsDir, expert.adapter);
  }
  return adapters;
}
