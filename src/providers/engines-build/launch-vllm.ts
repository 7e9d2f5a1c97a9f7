import { type EngineLaunch, finishLaunch, type LaunchInput, launchAdapters } from "./launch-spec.js";
import { vllmMaxLoraRank } from "./vllm-rank.js";

/** The default `--max-loras`: adapters in one batch, capped so the reserved GPU memory stays small. */
export const DEFAULT_VLLM_MAX_LORAS = 8;

/** Settings of {@link vllmLaunch} beyond the common ones. */
export interface VllmLaunchInput extends LaunchInput {
  /** `--max-loras`: different adapters in one batch. @default min(adapters, 8) */
  maxLoras?: number;
}

/**
 * `vllm serve BASE --enable-lora --max-lora-rank R --max-loras N --max-cpu-loras M --lora-modules {...}...`:
 * every adapter as a JSON LoRA module (`name`, `path`, `base_model_name`), R the smallest rank vLLM
 * accepts that holds the largest adapter (blends included: their rank is the sum of their experts'),
 * and M every adapter, so none is evicted from the CPU cache and read from disk again.
 */
export function vllmLaunch(input: VllmLaunchInput): EngineLaunch {
  const adapters = launchAdapters(input);
  const largest = adapters.reduce((a, b) => (b.rank > a.rank ? b : a));
  const maxLoraRank = vllmMaxLoraRank(largest.rank, `Adapter "${largest.name}"`);
  const maxLoras = input.maxLoras ?? Math.min(adapters.length, DEFAULT_VLLM_MAX_LORAS);
  const maxCpuLoras = Math.max(adapters.length, maxLoras);
  const url = `http://127.0.0.1:${input.port}`;
  const modules = adapters.map((a) =>
    JSON.stringify({ name: a.name, path: a.path, base_model_name: input.baseModel }),
  );
  return finishLaunch(
    {
      engine: "vllm",
      baseModel: input.baseModel,
      argv: [
        "vllm",
        "serve",
        input.baseModel,
        "--port",
        String(input.port),
        "--enable-lora",
        "--max-lora-rank",
        String(maxLoraRank),
        "--max-loras",
        String(maxLoras),
        "--max-cpu-loras",
        String(maxCpuLoras),
        "--lora-modules",
        ...modules,
      ],
      env: {},
      url,
      provider: { name: "vllm", url },
      settings: { maxLoraRank, maxLoras, maxCpuLoras, largestRank: largest.rank },
      adapters,
      notes: [
        `--max-lora-rank ${maxLoraRank} holds the largest adapter, "${largest.name}" (rank ${largest.rank}); a merged blend's rank is the sum of its experts' ranks.`,
        `--max-loras ${maxLoras} different adapters run in one batch; more costs GPU memory (max-loras x max-lora-rank).`,
        "For requests with tools, add --enable-auto-tool-choice --tool-call-parser PARSER (the base model's, e.g. llama3_json or hermes); without them vLLM refuses tools.",
        "To load adapters while the server runs instead of at start-up, start it with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True " +
          "(and --enable-lora --max-lora-rank as above) and POST /v1/load_lora_adapter " +
          '{"lora_name": NAME, "lora_path": PATH} for each adapter listed here.',
      ],
    },
    input.plan.configFile,
  );
}
