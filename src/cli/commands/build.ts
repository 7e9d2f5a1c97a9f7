import { isAbsolute, relative } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { blendGrid } from "../../core/blend-resolver.js";
import { errorMessage } from "../../core/errors.js";
import { loadExpertSet } from "../../core/experts.js";
import { type FloatDType, isFloatDType } from "../../providers/adapters/dtype.js";
import { ENGINE_TRAITS, ENGINES } from "../../providers/engines-build/index.js";
import { type BuildEvent, buildOllamaModels } from "../../providers/ollama-build/build.js";
import { loadChatSettings } from "../../providers/ollama-build/build-plan.js";
import { positiveInt, progress } from "../common-options.js";
import { UsageError } from "../usage-error.js";
import { checkFlagsFor, type EngineBuildFlags, portNumber, runEngineBuild } from "./build-engine.js";

interface BuildFlags extends EngineBuildFlags {
  engine: "ollama" | (typeof ENGINES)[number];
  dryRun?: boolean;
  grid: number;
  pairs?: [string, string][];
  expertsDir: string;
  dtype: FloatDType | "auto";
  force?: boolean;
  json?: boolean;
}

/** Parses `a+b,c+d` into expert pairs (commander argParser). @throws InvalidArgumentError on anything else */
export function parsePairs(text: string): [string, string][] {
  return text.split(",").map((pair) => {
    const names = pair.split("+").map((n) => n.trim());
    if (names.length !== 2 || names.some((n) => n === "") || names[0] === names[1]) {
      throw new InvalidArgumentError(
        `--pairs takes two different experts per pair, like code+reasoning; got "${pair}".`,
      );
    }
    return names as [string, string];
  });
}

/** Checks that every expert `--pairs` names is in experts.json. @throws UsageError naming the known ones */
function checkPairs(pairs: readonly [string, string][], known: readonly string[], dir: string): void {
  for (const name of pairs.flat()) {
    if (!known.includes(name)) {
      throw new UsageError(
        `--pairs names "${name}", which is not an expert in ${dir}/experts.json; known experts: ${known.join(", ")}.`,
      );
    }
  }
}

/** Whether the engine build blends experts per request (so it writes no blend adapters). */
function blendsPerRequest(engine: (typeof ENGINES)[number], nativeMerge: boolean | undefined): boolean {
  return !ENGINE_TRAITS[engine].prebuiltBlends || (engine === "lorax" && nativeMerge === true);
}

/** Parses --grid (commander argParser): a step that splits 1 into whole percents. */
function gridStep(value: string): number {
  const step = Number(value);
  if (value.trim() === "" || !Number.isFinite(step))
    throw new InvalidArgumentError(`--grid must be a number such as 0.25, got "${value}".`);
  try {
    blendGrid(step);
  } catch (error) {
    throw new InvalidArgumentError(errorMessage(error));
  }
  return step;
}

/** Parses --dtype (commander argParser): auto, f32, f16 or bf16, in any case. */
function dtypeFlag(value: string): FloatDType | "auto" {
  const dtype = value.toLowerCase() === "auto" ? "auto" : value.toUpperCase();
  if (dtype !== "auto" && !isFloatDType(dtype))
    throw new InvalidArgumentError(`--dtype must be auto, f32, f16 or bf16, got "${value}".`);
  return dtype;
}

/**
 * Prints build progress on stderr: one line per step; uploads and layer progress as a live bar on a
 * terminal (`bars`), else in 25% steps.
 */
export function printBuildEvent(
  write: (line: string) => void = (l) => process.stderr.write(l),
  options: { bars?: boolean } = {},
) {
  const lastPercent = new Map<string, number>();
  const bars = new Map<string, (done: number, total: number) => void>();
  return (event: BuildEvent): void => {
    switch (event.type) {
      case "modelfile":
        if (event.changed) write(`wrote ${relative(process.cwd(), event.path)}\n`);
        return;
      case "merge":
        write(`merging ${event.model} (${event.done}/${event.total})\n`);
        return;
      case "unchanged":
        write(`${event.model}: unchanged\n`);
        return;
      case "created":
        write(`${event.model}: created\n`);
        return;
      case "progress": {
        const { status, total, completed } = event.progress;
        const key = `${event.model}: ${status}`;
        if (total && completed !== undefined && options.bars) {
          const bar = bars.get(key) ?? progress(key);
          bars.set(key, bar);
          bar(completed, total);
        } else if (total && completed !== undefined) {
          const pct = Math.floor((completed / total) * 100);
          if (Math.floor(pct / 25) === Math.floor((lastPercent.get(key) ?? -25) / 25) && pct !== 100) return;
          lastPercent.set(key, pct);
          write(`${key} ${pct}%\n`);
        } else {
          write(`${key}\n`);
        }
      }
    }
  };
}

/**
 * `herd build`: Modelfiles, merged blend adapters and Ollama models for the expert set; with
 * `--engine vllm | lorax | llama-server`, the adapters and launch arguments for that engine.
 */
export function registerBuildCommand(program: Command): void {
  const command = program
    .command("build")
    .description(
      "write Modelfiles for the base, each expert and each two-expert blend, merge the blend adapters and create " +
        "the models in Ollama; with --engine, write the adapters and launch arguments for vLLM, LoRAX or llama-server",
    )
    .addOption(
      new Option("--engine <name>", "the engine to build for")
        .choices(["ollama", ...ENGINES])
        .default("ollama"),
    )
    .option(
      "--dry-run",
      "write nothing (Ollama: only the Modelfiles); list what would be written and the missing adapter files",
    )
    .option("--grid <step>", "blend weight grid step (0.5, 0.25, 0.1, ...)", gridStep, 0.25)
    .option(
      "--pairs <list>",
      "only blend these expert pairs, e.g. code+reasoning,qa+general (default: every pair)",
      parsePairs,
    )
    .option("--experts-dir <dir>", "the folder holding experts.json", "experts")
    .option(
      "--out <dir>",
      "where to write: the Modelfiles (default: Modelfiles), or with --engine the adapters, launch.json and the herd.config.json herd serve reads (default: herd-<engine>)",
    )
    .option(
      "--dtype <dtype>",
      "encoding of merged (and converted) adapters: auto | f32 | f16 | bf16",
      dtypeFlag,
      "auto",
    )
    .option("--force", "merge and create (or write) again even when nothing changed")
    .option("--json", "print the build report as JSON")
    .option("--ollama-url <url>", "Ollama: the server (default: $OLLAMA_HOST or http://127.0.0.1:11434)")
    .option(
      "--merged-dir <dir>",
      "Ollama: where merged blend adapters go (default: <experts-dir>/adapters/merged)",
    )
    .option(
      "--model <name>",
      "engines: the base model as the engine loads it: a Hugging Face id or folder (vllm, lorax; default: the " +
        "adapters' base_model_name_or_path, else experts.json baseModel) or a GGUF file (llama-server; default: --base-gguf, else experts.json baseModel)",
    )
    .option(
      "--base-gguf <file>",
      "engines: a local GGUF file of the base, to convert adapters between GGUF and PEFT (default: experts.json baseModel if .gguf)",
    )
    .option(
      "--engine-dir <dir>",
      "engines: where the engine sees --out, e.g. /data in a container (default: the absolute --out path)",
      absoluteEngineDir,
    )
    .option(
      "--port <port>",
      "engines: the port in the printed command (default: vllm 8000, others 8080)",
      portNumber,
    )
    .option(
      "--max-loras <n>",
      "vllm: different adapters in one batch (default: the number of adapters, at most 8)",
      positiveInt("--max-loras"),
    )
    .option(
      "--native-merge",
      "lorax: write no blend adapters; LoRAX merges experts per request (merged_adapters)",
    )
    .action(async (flags: BuildFlags) => {
      const { grid, dtype } = flags;
      checkFlagsFor(command, flags.engine, flags);
      if (flags.pairs && flags.engine !== "ollama" && blendsPerRequest(flags.engine, flags.nativeMerge)) {
        const how =
          flags.engine === "lorax" ? "LoRAX with --native-merge" : ENGINE_TRAITS[flags.engine].label;
        throw new UsageError(
          `--pairs picks the blend adapters to write, but ${how} blends experts per request and none are written: drop --pairs.`,
        );
      }
      const experts = await loadExpertSet(flags.expertsDir);
      if (flags.pairs)
        checkPairs(
          flags.pairs,
          experts.experts.map((e) => e.name),
          flags.expertsDir,
        );
      if (flags.engine !== "ollama") {
        await runEngineBuild(flags.engine, experts, flags);
        return;
      }
      const out = flags.out ?? "Modelfiles";
      const report = await buildOllamaModels(experts, {
        expertsDir: flags.expertsDir,
        outDir: out,
        grid,
        ...(flags.pairs ? { pairs: flags.pairs } : {}),
        chat: await loadChatSettings(flags.expertsDir),
        dryRun: flags.dryRun ?? false,
        dtype,
        force: flags.force ?? false,
        ...(flags.mergedDir ? { mergedDir: flags.mergedDir } : {}),
        ...(flags.ollamaUrl ? { ollamaUrl: flags.ollamaUrl } : {}),
        // --json keeps stderr quiet; a terminal gets live bars for uploads.
        ...(flags.json ? {} : { onEvent: printBuildEvent(undefined, { bars: process.stderr.isTTY }) }),
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return;
      }
      const lines = [`${report.modelfiles.length} Modelfiles in ${out}`];
      if (report.missing.length > 0) {
        lines.push(
          `missing adapter files (${report.missing.length}):`,
          ...report.missing.map((m) => `  ${relative(process.cwd(), m)}`),
        );
      }
      if (!report.dryRun) {
        lines.push(
          `merged ${report.merged.length} blend adapters; created ${report.created.length} models, ${report.unchanged.length} unchanged`,
        );
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}

/**
 * Parses --engine-dir (commander argParser): the engine loads adapters from paths under it, so a
 * relative one would be resolved against wherever the engine happens to run.
 */
function absoluteEngineDir(value: string): string {
  if (value.startsWith("/") || isAbsolute(value)) return value;
  throw new InvalidArgumentError(
    `--engine-dir must be an absolute path (where the engine sees --out, e.g. /data), got "${value}".`,
  );
}
