import { stat } from "node:fs/promises";
import type { Command } from "commander";
import { ConfigError, InvalidInputError } from "../../core/errors.js";
import { isFloatDType } from "../../providers/adapters/dtype.js";
import { mergeAdapterFiles, outputFormatOf } from "../../providers/adapters/merge.js";
import { progress } from "../common-options.js";

interface MergeFlags {
  out: string;
  format?: string;
  dtype?: string;
  base?: string;
  json?: boolean;
  force?: boolean;
}

/**
 * Parses `ADAPTER[:WEIGHT]` arguments. A path that exists is taken whole (so `C:\a.gguf` works);
 * otherwise the text after the last `:` is the weight and must be a finite number. Weights are
 * given for every adapter or for none; none means 1/N each.
 * @throws InvalidInputError naming the argument
 */
export async function parseAdapterSpecs(
  specs: readonly string[],
): Promise<{ path: string; weight: number }[]> {
  if (specs.length === 0)
    throw new InvalidInputError("Give at least one adapter to merge: ADAPTER[:WEIGHT]...", "adapters");
  const parsed: { path: string; weight: number | undefined }[] = [];
  for (const spec of specs) {
    const colon = spec.lastIndexOf(":");
    const exists = await stat(spec).then(
      () => true,
      () => false,
    );
    if (exists || colon <= 0) {
      parsed.push({ path: spec, weight: undefined });
      continue;
    }
    const text = spec.slice(colon + 1);
    const weight = text.trim() === "" ? Number.NaN : Number(text);
    if (!Number.isFinite(weight)) {
      throw new InvalidInputError(
        `The weight "${text}" in "${spec}" is not a finite number: write ADAPTER:WEIGHT, e.g. code.gguf:0.75.`,
        "adapters",
      );
    }
    parsed.push({ path: spec.slice(0, colon), weight });
  }
  const weighted = parsed.filter((p) => p.weight !== undefined).length;
  if (weighted !== 0 && weighted !== parsed.length) {
    throw new InvalidInputError(
      "Give a weight to every adapter or to none (then each gets 1/N).",
      "adapters",
    );
  }
  return parsed.map((p) => ({ path: p.path, weight: p.weight ?? 1 / parsed.length }));
}

/** `herd merge --out PATH ADAPTER[:WEIGHT]...`: one adapter equal to a weighted blend of several. */
export function registerMergeCommand(program: Command): void {
  program
    .command("merge")
    .description(
      "merge LoRA adapters exactly (rank concatenation): the result equals running them together at the given weights",
    )
    .argument("<adapters...>", "GGUF LoRA files or PEFT folders, each optionally :WEIGHT (default: 1/N each)")
    .requiredOption("--out <path>", "the merged adapter: a .gguf file, or a folder for PEFT")
    .option("--format <format>", "gguf | peft (default: from --out)")
    .option("--dtype <dtype>", "f32 | f16 | bf16; f32 keeps the merge exact (default: f32)")
    .option(
      "--base <model.gguf>",
      "check every adapter against this GGUF base model; also converts between PEFT and GGUF",
    )
    .option(
      "--force",
      "replace an existing --out folder even if it is not a PEFT adapter (deletes its files)",
    )
    .option("--json", "print the result as JSON")
    .action(async (specs: string[], flags: MergeFlags) => {
      const dtype = (flags.dtype ?? "f32").toUpperCase();
      if (!isFloatDType(dtype))
        throw new ConfigError(`--dtype must be f32, f16 or bf16, got "${flags.dtype}".`, "dtype");
      const sources = await parseAdapterSpecs(specs);
      const format = await outputFormatOf(flags.out, flags.format);
      const started = performance.now();
      const result = await mergeAdapterFiles(flags.out, sources, {
        format,
        dtype,
        force: flags.force ?? false,
        ...(flags.base ? { baseModel: flags.base } : {}),
        onProgress: progress("merging modules", { quiet: flags.json }),
      });
      const seconds = (performance.now() - started) / 1000;
      const summary = { ...result, inputs: sources, seconds };
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(summary)}\n`
          : `wrote ${result.path} (${result.format}): ${sources.length} adapters, ${result.modules} modules, ` +
              `rank up to ${result.rank}, in ${seconds.toFixed(2)} s\n`,
      );
    });
}
