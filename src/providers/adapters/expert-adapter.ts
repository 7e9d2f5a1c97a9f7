import { mkdir } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { ConfigError } from "../../core/errors.js";
import { EXPERT_NAME } from "../../core/experts.js";
import { readGgufHeader } from "../gguf/index.js";
import { convertAdapter } from "./convert.js";
import type { AdapterFormat } from "./lora-adapter.js";
import { mergeAdapterFiles } from "./merge.js";
import { openAdapter } from "./open-adapter.js";
import { validateAgainstBaseModel } from "./validate.js";

/** Settings of {@link prepareExpertAdapter}. */
export interface PrepareExpertAdapterOptions {
  /** The expert's name: a converted adapter is written to `<expertsDir>/adapters/<name>.gguf`. */
  name: string;
  /** The adapter as given: a GGUF LoRA file or a PEFT folder. */
  adapter: string;
  /** The experts folder; the returned path is relative to it when the adapter lies inside. */
  expertsDir: string;
  /**
   * The GGUF base model: the adapter is checked against it (architecture, module names, shapes),
   * and it is what PEFT-to-GGUF conversion needs. Without it the adapter is only checked to open.
   */
  baseModel?: string;
  /** The format the chat backend needs (`gguf` for llama.cpp); "any" keeps the adapter as given. @default "any" */
  format?: AdapterFormat | "any";
}

/** What {@link prepareExpertAdapter} found and did. */
export interface PreparedExpertAdapter {
  /** The adapter path to put in experts.json (relative to the experts folder when inside it). */
  path: string;
  format: AdapterFormat;
  /** True when a PEFT adapter was converted to GGUF. */
  converted: boolean;
  modules: number;
  rank: number;
  /** Checks that could not run (e.g. no GGUF base model to check against). */
  warnings: string[];
}

/**
 * Checks a new expert's adapter before it joins experts.json: it must open as GGUF or PEFT and,
 * when the GGUF base model is known, fit it. A PEFT adapter is converted to GGUF when the backend
 * needs GGUF (llama.cpp); that needs the base model.
 * @throws FileFormatError naming the adapter and the mismatch; ConfigError when conversion lacks the base
 */
export async function prepareExpertAdapter(
  options: PrepareExpertAdapterOptions,
): Promise<PreparedExpertAdapter> {
  if (!EXPERT_NAME.test(options.name)) {
    throw new ConfigError(
      `"${options.name.slice(0, 64)}" is not a valid expert name (lowercase letters, digits, '-', '_').`,
      "name",
    );
  }
  const source = resolve(options.adapter);
  const target = options.format ?? "any";
  const warnings: string[] = [];
  const adapter = await openAdapter(source);
  let summary: { modules: number; rank: number };
  try {
    summary = { modules: adapter.modules.length, rank: Math.max(0, ...adapter.modules.map((m) => m.rank)) };
    if (options.baseModel) {
      const base = await readGgufHeader(options.baseModel);
      // PEFT names are mapped to the base's GGUF tensors first, so shapes are checked either way.
      validateAgainstBaseModel(
        adapter.format === "gguf" ? adapter : convertAdapter(adapter, "gguf", base),
        base,
      );
    } else {
      warnings.push(
        `${basename(source)} was not checked against the base model: pass --base <model.gguf> to check its architecture and shapes.`,
      );
    }
  } finally {
    await adapter.close();
  }
  let path = source;
  let converted = false;
  if (target !== "any" && target !== adapter.format) {
    if (!options.baseModel) {
      throw new ConfigError(
        `The backend needs a ${target.toUpperCase()} adapter but ${options.adapter} is ${adapter.format.toUpperCase()}: ` +
          "pass the GGUF base model with --base <model.gguf> so Herd can convert it.",
        "base",
      );
    }
    const dir = join(resolve(options.expertsDir), "adapters");
    await mkdir(dir, { recursive: true });
    path = join(dir, target === "gguf" ? `${options.name}.gguf` : options.name);
    await mergeAdapterFiles(path, [{ path: source, weight: 1 }], {
      format: target,
      baseModel: options.baseModel,
    });
    converted = true;
  }
  const inside = relative(resolve(options.expertsDir), path);
  return {
    path: inside.startsWith("..") || isAbsolute(inside) ? path : inside,
    format: converted ? (target as AdapterFormat) : adapter.format,
    converted,
    ...summary,
    warnings,
  };
}
