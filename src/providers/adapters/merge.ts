import { readdir, stat } from "node:fs/promises";
import { dirname, extname, join, resolve, sep } from "node:path";
import { ConfigError, FileFormatError, InvalidInputError } from "../../core/errors.js";
import { readGgufHeader } from "../gguf/index.js";
import {
  type AdapterModuleOutput,
  type AdapterOutput,
  writeGgufLora,
  writePeftAdapter,
} from "./adapter-writer.js";
import { convertAdapter } from "./convert.js";
import type { FloatDType } from "./dtype.js";
import type { AdapterFormat, LoraAdapter, LoraModule } from "./lora-adapter.js";
import { openAdapter } from "./open-adapter.js";
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE } from "./peft-adapter.js";
import { validateAgainstBaseModel, validateMergeInputs } from "./validate.js";

/** One adapter of a merge and its weight (the scale it would have in a runtime blend). */
export interface WeightedAdapter {
  adapter: LoraAdapter;
  weight: number;
}

/** Settings of a merge. */
export interface MergeOptions {
  /** The output format. @default from the output path: `.gguf` is GGUF, no extension or a folder is PEFT */
  format?: AdapterFormat;
  /**
   * The output tensor encoding. F32 keeps the merge exact; F16/BF16 round once and halve the size;
   * "auto" keeps the inputs' encoding when they share one (else F32). @default "F32"
   */
  dtype?: FloatDType | "auto";
  /**
   * A GGUF base model: every adapter is checked against it (architecture and tensor shapes), and
   * adapters in the other format are converted (names, and q/k row order for llama).
   */
  baseModel?: string;
  /** Called after each module is written. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Replace an existing folder at the output path even when it is not a PEFT adapter (its other
   * files are deleted). Without it such a folder is refused. @default false
   */
  force?: boolean;
}

/** What a merge wrote. */
export interface MergeResult {
  path: string;
  format: AdapterFormat;
  /** Number of adapted modules in the output. */
  modules: number;
  /** The largest rank of the output (the sum of the input ranks where all adapters target a module). */
  rank: number;
}

/**
 * The output format for a path: `--format` wins, then `.gguf` means GGUF, and an existing folder
 * or a path without extension means a PEFT folder.
 * @throws ConfigError when the path does not say and no format is given
 */
export async function outputFormatOf(path: string, format?: string): Promise<AdapterFormat> {
  if (format !== undefined) {
    if (format === "gguf" || format === "peft") return format;
    throw new ConfigError(`Unknown adapter format "${format}": use "gguf" or "peft".`, "format");
  }
  const ext = extname(path).toLowerCase();
  if (ext === ".gguf") return "gguf";
  if (ext === "" || (await stat(path).catch(() => undefined))?.isDirectory()) return "peft";
  throw new ConfigError(
    `Cannot tell the adapter format of "${path}" from its name: use a .gguf file, a folder name for PEFT, or --format.`,
    "format",
  );
}

/** The inputs' float encoding when they all share one, else F32 (which holds F16 and BF16 exactly). */
function widestDType(inputs: readonly WeightedAdapter[]): FloatDType {
  const all = new Set(inputs.flatMap((i) => i.adapter.modules.flatMap((m) => [m.dtypeA, m.dtypeB])));
  return all.size === 1 ? [...all][0]! : "F32";
}

function checkWeights(inputs: readonly WeightedAdapter[]): void {
  for (const { adapter, weight } of inputs) {
    if (typeof weight !== "number" || !Number.isFinite(weight)) {
      throw new InvalidInputError(
        `The weight of "${adapter.path}" is ${weight}; weights must be finite numbers.`,
        "weight",
      );
    }
  }
}

/** A NaN or infinite adapter weight would spread into every output of the merged module: refuse it. */
function checkFinite(values: Float32Array, adapter: LoraAdapter, module: string, which: "A" | "B"): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new FileFormatError(
        `Adapter "${adapter.path}": module "${module}" has a non-finite value (${values[i]}) in lora_${which} at index ${i}. ` +
          "The adapter is damaged (or overflowed in training): retrain or re-export it.",
        adapter.path,
      );
    }
  }
}

/** The merged module: A' = rows c_i A_i stacked, B' = columns B_i side by side, c_i = w_i * scale_i. */
function mergedModule(
  name: string,
  parts: { module: LoraModule; adapter: LoraAdapter; c: number }[],
): AdapterModuleOutput {
  const { inFeatures, outFeatures } = parts[0]!.module;
  const rank = parts.reduce((n, p) => n + p.module.rank, 0);
  return {
    name,
    rank,
    inFeatures,
    outFeatures,
    async a() {
      const out = new Float32Array(rank * inFeatures);
      let row = 0;
      for (const { module, adapter, c } of parts) {
        const a = await adapter.readA(module.name);
        checkFinite(a, adapter, module.name, "A");
        for (let i = 0; i < a.length; i++) a[i]! *= c;
        out.set(a, row * inFeatures);
        row += module.rank;
      }
      return out;
    },
    async b() {
      const out = new Float32Array(outFeatures * rank);
      let column = 0;
      for (const { module, adapter } of parts) {
        const b = await adapter.readB(module.name);
        checkFinite(b, adapter, module.name, "B");
        const r = module.rank;
        for (let o = 0; o < outFeatures; o++) out.set(b.subarray(o * r, (o + 1) * r), o * rank + column);
        column += r;
      }
      return out;
    },
  };
}

/**
 * Plans the exact linear merge of opened adapters: for each module any of them adapts,
 * delta' = sum_i w_i * scale_i * B_i A_i, written as ONE LoRA of rank sum_i r_i with the scales
 * folded into A (so the output's own scale is 1). Modules adapted by only some inputs get only
 * theirs; inputs with weight 0 are left out. Nothing is read until the output is written.
 */
export function planLinearMerge(inputs: readonly WeightedAdapter[]): AdapterOutput {
  checkWeights(inputs);
  const byModule = new Map<string, { module: LoraModule; adapter: LoraAdapter; c: number }[]>();
  for (const { adapter, weight } of inputs) {
    if (weight === 0) continue;
    for (const module of adapter.modules) {
      const parts = byModule.get(module.name) ?? [];
      const c = weight * module.scale;
      if (!Number.isFinite(c)) {
        throw new FileFormatError(
          `Adapter "${adapter.path}": module "${module.name}" has scale ${module.scale} (lora_alpha / r), so weight x scale is ${c}. Fix lora_alpha in its config.`,
          adapter.path,
        );
      }
      parts.push({ module, adapter, c });
      byModule.set(module.name, parts);
    }
  }
  const first = inputs[0]?.adapter;
  return {
    modules: [...byModule].map(([name, parts]) => mergedModule(name, parts)),
    ...(first?.architecture ? { architecture: first.architecture } : {}),
    ...(first?.baseModel ? { baseModel: first.baseModel } : {}),
  };
}

/**
 * Merges opened adapters into `out` (see {@link planLinearMerge}). Inputs are validated first
 * (and converted to the output format when `baseModel` is given);
 * the output is written to a temporary path and renamed, so an error leaves nothing behind.
 */
export async function mergeAdapters(
  out: string,
  inputs: readonly WeightedAdapter[],
  options: MergeOptions = {},
): Promise<MergeResult> {
  checkWeights(inputs);
  await checkOutputFolder(out);
  const format = options.format ?? (await outputFormatOf(out));
  await checkOutputTarget(out, format, options.force ?? false);
  const base = options.baseModel ? await readGgufHeader(options.baseModel) : undefined;
  const converted = inputs.map((input) =>
    base && input.adapter.format !== format
      ? { ...input, adapter: convertAdapter(input.adapter, format, base) }
      : input,
  );
  validateMergeInputs(
    converted.map((i) => i.adapter),
    format,
  );
  if (base) {
    for (const [i, { adapter }] of converted.entries()) {
      const original = inputs[i]!.adapter;
      validateAgainstBaseModel(
        adapter.format === "gguf" || original.format !== "gguf" ? adapter : original,
        base,
      );
    }
  }
  const plan = planLinearMerge(converted);
  if (plan.modules.length === 0) {
    throw new InvalidInputError("Nothing to merge: every adapter has weight 0.", "weight");
  }
  let done = 0;
  const total = plan.modules.length;
  const tracked: AdapterOutput = {
    ...plan,
    modules: plan.modules.map((m) => ({
      ...m,
      b: async () => {
        const b = await m.b();
        options.onProgress?.(++done, total);
        return b;
      },
    })),
  };
  const dtype = options.dtype === "auto" ? widestDType(inputs) : (options.dtype ?? "F32");
  if (format === "gguf") await writeGgufLora(out, tracked, { dtype, alpha: 0, name: "herd merge" });
  else await writePeftAdapter(out, tracked, { dtype });
  return { path: out, format, modules: total, rank: Math.max(...plan.modules.map((m) => m.rank)) };
}

/**
 * Opens adapter files or folders, merges them with the given weights and closes them again.
 * @example
 * await mergeAdapterFiles("blend.gguf", [{ path: "code.gguf", weight: 0.75 }, { path: "math.gguf", weight: 0.25 }]);
 */
export async function mergeAdapterFiles(
  out: string,
  sources: readonly { path: string; weight: number }[],
  options: MergeOptions = {},
): Promise<MergeResult> {
  const opened: LoraAdapter[] = [];
  try {
    for (const source of sources) opened.push(await openAdapter(source.path));
    return await mergeAdapters(
      out,
      opened.map((adapter, i) => ({ adapter, weight: sources[i]!.weight })),
      options,
    );
  } finally {
    await Promise.all(opened.map((a) => a.close()));
  }
}

/** The merged adapter's folder must exist: say so before any work, rather than fail on a temp file. */
async function checkOutputFolder(out: string): Promise<void> {
  const folder = dirname(resolve(out));
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new FileFormatError(
      `Cannot write the merged adapter ${out}: the folder ${folder} does not exist. Create it first or choose another --out.`,
      out,
    );
  }
}

/**
 * What is at the output path must be something a merge may replace: a GGUF output is a file (not a
 * folder), a PEFT output a folder that is new, empty or already a PEFT adapter (or `force`), and
 * never the current folder or one of its parents.
 */
async function checkOutputTarget(out: string, format: AdapterFormat, force: boolean): Promise<void> {
  const target = resolve(out);
  const cwd = process.cwd();
  if (target === cwd || cwd.startsWith(target.endsWith(sep) ? target : `${target}${sep}`)) {
    throw new InvalidInputError(
      `--out ${out} is the current folder${target === cwd ? "" : " or one of its parents"}; the merged adapter needs its own path, e.g. --out merged${format === "gguf" ? ".gguf" : ""}.`,
      "out",
    );
  }
  const info = await stat(target).catch(() => undefined);
  if (!info) return;
  if (format === "gguf") {
    if (info.isDirectory()) {
      throw new InvalidInputError(
        `--out ${out} is a folder, but a GGUF adapter is one file: give a file name such as ${join(out, "merged.gguf")}, or --format peft to write a PEFT folder.`,
        "out",
      );
    }
    return;
  }
  if (!info.isDirectory()) {
    throw new InvalidInputError(
      `--out ${out} is a file, but a PEFT adapter is a folder: give a folder name, or --format gguf to write a GGUF file.`,
      "out",
    );
  }
  if (force) return;
  const entries = await readdir(target);
  // A PEFT training output holds the adapter and more (checkpoint-*/, training_args.bin, ...):
  // replacing the folder would delete them, so only an adapter and nothing else is replaced.
  const others = entries.filter((name) => !ADAPTER_FILES.has(name));
  if (others.length === 0) return;
  const adapter = entries.includes(PEFT_CONFIG_FILE);
  const shown = others.slice(0, 3).join(", ") + (others.length > 3 ? `, ... (${others.length} entries)` : "");
  throw new InvalidInputError(
    `--out ${out} is a folder with other files (${shown})${adapter ? " besides its PEFT adapter" : " and not a PEFT adapter"}; merging would replace it and delete them. ` +
      "Choose a new or empty folder, or pass --force to replace it.",
    "out",
  );
}

/** The files of a PEFT adapter folder, which a merge into it replaces. */
const ADAPTER_FILES = new Set([PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, "adapter_model.bin"]);
