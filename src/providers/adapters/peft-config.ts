import { readFile } from "node:fs/promises";
import { stripBom } from "../../core/bom.js";
import { FileFormatError } from "../../core/errors.js";
import { compileModulePatterns, type ModulePatterns } from "./module-patterns.js";

/** The fields of a PEFT `adapter_config.json` that Herd reads and writes. Unknown fields are kept. */
export interface PeftLoraConfig {
  peft_type: "LORA";
  r: number;
  lora_alpha: number;
  target_modules: string[] | string;
  base_model_name_or_path?: string | null;
  /** rsLoRA: the scale is alpha / sqrt(r) instead of alpha / r. */
  use_rslora?: boolean;
  /** Per-module ranks and alphas: regex suffixes of module paths. */
  rank_pattern?: Record<string, number>;
  alpha_pattern?: Record<string, number>;
  [key: string]: unknown;
}

function bad(file: string, problem: string): FileFormatError {
  return new FileFormatError(`Invalid PEFT adapter config "${file}": ${problem}.`, file);
}

/** Reads and checks an adapter_config.json. Throws FileFormatError naming the file. */
export async function readPeftConfig(file: string): Promise<PeftLoraConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FileFormatError(
      code === "ENOENT"
        ? `PEFT adapter config "${file}" does not exist: a PEFT adapter is a folder with adapter_config.json and adapter_model.safetensors.`
        : `Cannot read PEFT adapter config "${file}": ${(error as Error).message}.`,
      file,
      { cause: error },
    );
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(stripBom(text)) as Record<string, unknown>;
  } catch (error) {
    throw bad(file, `not JSON (${(error as Error).message})`);
  }
  if (typeof config !== "object" || config === null) throw bad(file, "not a JSON object");
  if (config.peft_type !== "LORA") {
    throw bad(file, `peft_type is ${JSON.stringify(config.peft_type)}; Herd merges LORA adapters only`);
  }
  if (!Number.isInteger(config.r) || (config.r as number) < 1)
    throw bad(file, "r must be a positive integer");
  if (typeof config.lora_alpha !== "number" || !Number.isFinite(config.lora_alpha)) {
    throw bad(file, "lora_alpha must be a number");
  }
  if (config.use_dora === true) throw bad(file, "use_dora is true; DoRA adapters cannot be merged linearly");
  if (config.bias !== undefined && config.bias !== "none") {
    throw bad(file, `bias is ${JSON.stringify(config.bias)}; only "none" is supported`);
  }
  for (const key of ["rank_pattern", "alpha_pattern"] as const) {
    const pattern = config[key];
    if (pattern === undefined || pattern === null) continue;
    if (
      typeof pattern !== "object" ||
      Array.isArray(pattern) ||
      Object.values(pattern).some((v) => typeof v !== "number")
    ) {
      throw bad(file, `${key} must map module patterns to numbers`);
    }
    compiled.set(pattern, compileModulePatterns(pattern as Record<string, number>, key, file));
  }
  return config as PeftLoraConfig;
}

/** Patterns compiled when their config was read, by pattern map. */
const compiled = new WeakMap<object, ModulePatterns>();

/**
 * The value of the first pattern that matches a module path, as PEFT does it: a key matches
 * when the path ends with it after a `.` (keys are regular expressions, matched in linear time).
 */
export function matchModulePattern(
  patterns: Record<string, number> | undefined,
  module: string,
): number | undefined {
  if (!patterns) return undefined;
  let matcher = compiled.get(patterns);
  if (!matcher) {
    matcher = compileModulePatterns(patterns, "rank_pattern/alpha_pattern", "adapter_config.json");
    compiled.set(patterns, matcher);
  }
  return matcher.match(module);
}
