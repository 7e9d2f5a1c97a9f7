import type { AdapterFormat } from "../adapters/lora-adapter.js";

/** The serving engines `herd build --engine` writes for (Ollama is the default builder). */
export const ENGINES = ["vllm", "lorax", "llama-server"] as const;

/** One of {@link ENGINES}. */
export type EngineName = (typeof ENGINES)[number];

/** What each engine loads and how it is reached by default. */
export interface EngineTraits {
  /** The engine's name in messages (e.g. `vLLM`). */
  label: string;
  /** The adapter format the engine loads: PEFT folders or GGUF LoRA files. */
  format: AdapterFormat;
  /** Whether the engine needs prebuilt merged adapters for blends (false: it blends per request). */
  prebuiltBlends: boolean;
  /** The port the printed launch command uses unless told otherwise. */
  defaultPort: number;
}

/** The traits of every engine. */
export const ENGINE_TRAITS: Readonly<Record<EngineName, EngineTraits>> = {
  vllm: { label: "vLLM", format: "peft", prebuiltBlends: true, defaultPort: 8000 },
  lorax: { label: "LoRAX", format: "peft", prebuiltBlends: true, defaultPort: 8080 },
  "llama-server": { label: "llama-server", format: "gguf", prebuiltBlends: false, defaultPort: 8080 },
};

/** True when `name` is one of {@link ENGINES}. */
export function isEngineName(name: string): name is EngineName {
  return (ENGINES as readonly string[]).includes(name);
}
