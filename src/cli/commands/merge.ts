import { stat } from "node:fs/promises";
import { type Command, InvalidArgumentError, Option } from "commander";
import { type FloatDType, isFloatDType } from "../../providers/adapters/dtype.js";
import { mergeAdapterFiles, outputFormatOf } from "../../providers/adapters/merge.js";
import { progress } from "../common-options.js";
import { UsageError } from "../usage-error.js";

/** Parses --dtype (commander argParser): f32, f16 or bf16, in any case. */
function dtypeFlag(value: string): FloatDType {
  const dtype = value.toUpperCase();
  if (!isFloatDType(dtype))
    throw new InvalidArgumentError(`--dtype must be f32, f16 or bf16, got "${value}".`);
  return dtype;
}

interface MergeFlags {
  out: string;
  format?: string;
  dtype?: FloatDType;
  base?: string;
  json?: boolean;
  force?: boolean;
}

/**
 * Parses `ADAPTER[:WEIGHT]` arguments. A path that exists is taken whole (so `C:\a.gguf` works);
 * otherwise the text after the last `:` is the weight and must be a finite number. Weights are
 * given for every adapter or for none; none means 1/N each.
 * @throws UsageError naming the argument
 */
export async function parseAdapterSpecs(
  specs: readonly string[],
): Promise<{ path: string; weight: number }[]> {
  if (specs.length === 0) throw new UsageError("Give at least one adapter to merge: ADAPTER[:WEIGHT]...");
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
      throw new UsageError(
        `The weight "${text}" in "${spec}" is not a finite number: write ADAPTER:WEIGHT, e.g. code.gguf:0.75.`,
      );
    }
    parsed.push({ path: spec.slice(0, colon), weight });
  }
  const weighted = parsed.filter((p) => p.weight !== undefined).length;
  if (weighted !== 0 && weighted !== parsed.length) {
    throw new UsageError("Give a weight to every adapter or to none (then each gets 1/N).");
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
    .addOption(
      new Option("--format <format>", "the adapter format (default: from --out)").choices(["gguf", "peft"]),
    )
    .addOption(
      new Option("--dtype <dtype>", "f32 | f16 | bf16; f32 keeps the merge exact (default: f32)").argParser(
        dtypeFlag,
      ),
    )
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
      const dtype = flags.dtype ?? "F32";
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
