import { copyFile, cp } from "node:fs/promises";
import { FileFormatError } from "../../core/errors.js";
import { writeAtomically } from "../adapters/atomic-output.js";
import type { FloatDType } from "../adapters/dtype.js";
import type { AdapterFormat, LoraAdapter } from "../adapters/lora-adapter.js";
import { mergeAdapterFiles } from "../adapters/merge.js";
import { openAdapter } from "../adapters/open-adapter.js";
import { PeftAdapter } from "../adapters/peft-adapter.js";
import type { PlannedEngineAdapter } from "./engine-plan.js";

/**
 * How one engine adapter is made:
 * - `copy`: the expert's adapter is already in the engine's format, copied as is;
 * - `convert`: the expert's adapter in the other format, converted exactly (needs the GGUF base);
 * - `normalize`: a PEFT expert with per-module ranks or alphas (`rank_pattern`/`alpha_pattern`),
 *   which vLLM and LoRAX ignore, rewritten with one rank and its scales folded in;
 * - `merge`: a blend, merged exactly (rank concatenation) from its experts' adapters.
 */
export type AdapterJob = "copy" | "convert" | "normalize" | "merge";

/** What the build needs to know of an expert's adapter to choose its job. */
export interface SourceAdapterInfo {
  format: AdapterFormat;
  /** PEFT `rank_pattern` or `alpha_pattern` is not empty. */
  hasPatterns: boolean;
}

/** Whether a PEFT adapter sets per-module ranks or alphas. */
export function hasPatterns(adapter: LoraAdapter): boolean {
  if (!(adapter instanceof PeftAdapter)) return false;
  const { rank_pattern: ranks, alpha_pattern: alphas } = adapter.config;
  return Object.keys(ranks ?? {}).length > 0 || Object.keys(alphas ?? {}).length > 0;
}

/** The job for a planned adapter, given what its (single) expert adapter is. */
export function adapterJob(planned: PlannedEngineAdapter, source: SourceAdapterInfo): AdapterJob {
  if (planned.kind === "blend") return "merge";
  if (source.format !== planned.format) return "convert";
  return source.hasPatterns ? "normalize" : "copy";
}

/** Settings of {@link writeEngineAdapter}. */
export interface WriteAdapterOptions {
  /** Encoding of converted and merged adapters. @default "auto" (the inputs' encoding) */
  dtype?: FloatDType | "auto";
  /** A GGUF file of the base model, for converting between PEFT and GGUF and checking shapes. */
  baseGguf?: string;
}

/** Writes one engine adapter (atomically: a temporary sibling renamed into place). */
export async function writeEngineAdapter(
  planned: PlannedEngineAdapter,
  job: AdapterJob,
  options: WriteAdapterOptions = {},
): Promise<void> {
  const source = planned.parts[0]!.path;
  if (job === "copy") {
    await writeAtomically(planned.path, (temp) =>
      planned.format === "peft" ? cp(source, temp, { recursive: true }) : copyFile(source, temp),
    );
    return;
  }
  await mergeAdapterFiles(
    planned.path,
    planned.parts.map((p) => ({ path: p.path, weight: p.weight })),
    {
      format: planned.format,
      dtype: options.dtype ?? "auto",
      ...(options.baseGguf ? { baseModel: options.baseGguf } : {}),
    },
  );
}

/**
 * The largest rank of an adapter as an engine sees it: every module's rank and, for PEFT,
 * `r` and `rank_pattern` (vLLM checks these against --max-lora-rank).
 */
export async function adapterRank(path: string): Promise<number> {
  const adapter = await openAdapter(path);
  try {
    const ranks = adapter.modules.map((m) => m.rank);
    if (adapter instanceof PeftAdapter) {
      ranks.push(adapter.config.r, ...Object.values(adapter.config.rank_pattern ?? {}));
    }
    return Math.max(0, ...ranks);
  } finally {
    await adapter.close();
  }
}

/** The error for an adapter in the other format when no GGUF base model is at hand to convert it. */
export function conversionNeedsBase(
  adapter: string,
  expert: string,
  to: AdapterFormat,
  engineLabel: string,
): FileFormatError {
  const [has, wants] = to === "peft" ? ["a GGUF file", "PEFT folders"] : ["a PEFT folder", "GGUF LoRA files"];
  return new FileFormatError(
    `Expert "${expert}" has ${has} (${adapter}) but ${engineLabel} loads ${wants}. Herd converts it exactly ` +
      "with the base model's GGUF file: pass --base-gguf BASE.gguf" +
      (to === "peft" ? "" : " (or --model BASE.gguf)") +
      ", or give the expert an adapter in that format in experts.json.",
    adapter,
  );
}
