import { basename, isAbsolute, resolve } from "node:path";
import { ConfigError } from "../../core/errors.js";
import type { ExpertSet } from "../../core/expert.js";
import { ENGINE_TRAITS, type EngineName } from "./engines.js";

const GGUF = /\.gguf$/i;
/** `name:tag` with no path separator: an Ollama model, which no other engine can load. */
const OLLAMA_TAG = /^[^/\\]+:[^/\\]+$/;

/** The base model settings of an engine build. */
export interface BaseModelOptions {
  engine: EngineName;
  expertsDir: string;
  /** The base as the engine loads it (`--model`). */
  model?: string;
  /** A local GGUF file of the base (`--base-gguf`). */
  baseGguf?: string;
}

function inExpertsDir(expertsDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(expertsDir, path);
}

/**
 * The local GGUF file of the base model, used to convert adapters between PEFT and GGUF and to
 * check them: `--base-gguf`, else experts.json `baseModel` when it is a GGUF file, else (for
 * llama-server) `--model`.
 */
export function localBaseGguf(experts: ExpertSet, options: BaseModelOptions): string | undefined {
  if (options.baseGguf) return resolve(options.baseGguf);
  if (GGUF.test(experts.baseModel)) return inExpertsDir(options.expertsDir, experts.baseModel);
  if (options.engine === "llama-server" && options.model && GGUF.test(options.model))
    return resolve(options.model);
  return undefined;
}

/**
 * The base model as the engine loads it: `--model`; else, for vLLM and LoRAX, the base the PEFT
 * adapters were trained on (`base_model_name_or_path`) or experts.json `baseModel`; for
 * llama-server, `--base-gguf`, else experts.json `baseModel` when it is a GGUF file.
 * @throws ConfigError naming the fix when the base cannot serve on this engine (an Ollama tag, a GGUF file on vLLM)
 */
export function servedBaseModel(
  experts: ExpertSet,
  options: BaseModelOptions,
  trainedOn: readonly string[] = [],
): string {
  const label = ENGINE_TRAITS[options.engine].label;
  if (options.engine === "llama-server") {
    if (options.model) {
      if (!GGUF.test(options.model)) {
        throw new ConfigError(
          `llama-server loads a GGUF base model: pass --model BASE.gguf, got "${options.model}".`,
          "model",
        );
      }
      return options.model;
    }
    if (options.baseGguf) return resolve(options.baseGguf);
    if (GGUF.test(experts.baseModel)) return inExpertsDir(options.expertsDir, experts.baseModel);
    throw new ConfigError(
      `llama-server loads a GGUF base model, but experts.json baseModel is "${experts.baseModel}": pass --model BASE.gguf.`,
      "model",
    );
  }
  if (options.model) return options.model;
  const recorded = [...new Set(trainedOn)];
  if (recorded.length === 1) return recorded[0]!;
  const base = experts.baseModel;
  if (GGUF.test(base) || OLLAMA_TAG.test(base)) {
    throw new ConfigError(
      `${label} loads a Hugging Face model, but experts.json baseModel is "${base}" ` +
        `(${GGUF.test(base) ? "a GGUF file" : "an Ollama tag"}) and the adapters do not record their base: ` +
        "pass --model with the Hugging Face id or folder of the base model.",
      "model",
    );
  }
  return base;
}

/** True when two names of a base model agree (a hub id and a local copy of it share the last part). */
export function sameBaseModel(a: string, b: string): boolean {
  return a === b || basename(a.replace(/[\\/]+$/, "")) === basename(b.replace(/[\\/]+$/, ""));
}
