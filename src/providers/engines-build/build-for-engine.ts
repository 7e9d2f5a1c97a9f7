import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { DEFAULT_BLEND_GRID } from "../../core/blend-resolver.js";
import { FileFormatError } from "../../core/errors.js";
import type { ExpertSet } from "../../core/expert.js";
import { writeAtomically } from "../adapters/atomic-output.js";
import type { FloatDType } from "../adapters/dtype.js";
import { sha256Json } from "../ollama-build/build-manifest.js";
import { adapterJob, adapterRank, writeEngineAdapter } from "./adapter-output.js";
import { type BaseModelOptions, localBaseGguf, servedBaseModel } from "./base-model.js";
import { EngineManifest } from "./engine-manifest.js";
import { type EnginePlan, type EnginePlanOptions, planEngineBuild } from "./engine-plan.js";
import { ENGINE_TRAITS } from "./engines.js";
import { checkExpertAdapters, type ExpertCheck } from "./expert-check.js";
import { llamaServerLaunch } from "./launch-llama-server.js";
import { loraxLaunch } from "./launch-lorax.js";
import { type EngineLaunch, type LaunchInput, renderLaunchReadme } from "./launch-spec.js";
import { vllmLaunch } from "./launch-vllm.js";

/** Settings of {@link buildForEngine}. */
export interface EngineBuildOptions extends EnginePlanOptions {
  /** The base model as the engine loads it. @default see servedBaseModel */
  model?: string;
  /** A local GGUF file of the base, to convert adapters between PEFT and GGUF and check them. @default see localBaseGguf */
  baseGguf?: string;
  /** The port of the printed launch command. @default 8000 for vLLM, 8080 for LoRAX and llama-server */
  port?: number;
  /** vLLM `--max-loras`. @default min(adapters, 8) */
  maxLoras?: number;
  /** Encoding of converted and merged adapters. @default "auto" (the inputs' encoding) */
  dtype?: FloatDType | "auto";
  /** Only list what would be written and which adapters are missing; write nothing. @default false */
  dryRun?: boolean;
  /** Write every adapter again even when nothing changed. @default false */
  force?: boolean;
  /** Progress, one event per adapter. */
  onEvent?: (event: EngineBuildEvent) => void;
  signal?: AbortSignal;
}

/** What `herd build --engine` is doing, for progress output. */
export type EngineBuildEvent =
  | { type: "write"; name: string; path: string; job: string; done: number; total: number }
  | { type: "unchanged"; name: string }
  | { type: "removed"; path: string }
  | { type: "warning"; message: string };

/** What an engine build did (or, with dryRun, would do). */
export interface EngineBuildReport {
  engine: EnginePlan["engine"];
  dryRun: boolean;
  outDir: string;
  /** Every adapter of the plan: its served name, kind and output path. */
  adapters: { name: string; kind: "expert" | "blend"; path: string }[];
  /** Expert adapter files (or the base GGUF file) that do not exist. */
  missing: string[];
  /** Adapters written in this run (served names). */
  written: string[];
  /** Adapters left as they were because nothing changed. */
  unchanged: string[];
  /** Adapters of an earlier build that the plan no longer has (deleted). */
  removed: string[];
  /** `launch.json` (absent in a dry run). */
  launchFile?: string;
  launch?: EngineLaunch;
  warnings: string[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** `{ tokenizerConfig }` when the base model is a local folder with a tokenizer_config.json. */
async function localTokenizerConfig(baseModel: string): Promise<{ tokenizerConfig?: string }> {
  const file = resolve(baseModel, "tokenizer_config.json");
  return (await exists(file)) ? { tokenizerConfig: file } : {};
}

/** Writes a text file atomically, only when its content changes. */
async function writeTextIfChanged(path: string, text: string): Promise<boolean> {
  if ((await readFile(path, "utf8").catch(() => undefined)) === text) return false;
  await writeAtomically(path, (temp) => writeFile(temp, text));
  return true;
}

/**
 * Builds what a serving engine needs to serve an expert set: `<outDir>/adapters/<name>/` PEFT
 * folders (vLLM, LoRAX) or `<outDir>/adapters/<name>.gguf` files (llama-server), one per expert
 * and, where the engine cannot blend per request, one exactly merged adapter per blend variant;
 * then `launch.json` and `README.txt` with the command that starts the engine, and `herd.config.json`
 * with the experts folder and provider settings the printed `herd serve` command reads. Idempotent: content
 * hashes in `<outDir>/herd-build.json` skip adapters whose inputs and output did not change.
 *
 * @example
 * const report = await buildForEngine(await loadExpertSet("experts"), {
 *   engine: "vllm", expertsDir: "experts", outDir: "serve/vllm", model: "meta-llama/Llama-3.2-1B-Instruct",
 * });
 * console.log(report.launch?.commandLine);
 */
export async function buildForEngine(
  experts: ExpertSet,
  options: EngineBuildOptions,
): Promise<EngineBuildReport> {
  const emit = options.onEvent ?? (() => undefined);
  const plan = planEngineBuild(experts, options);
  const report: EngineBuildReport = {
    engine: plan.engine,
    dryRun: options.dryRun ?? false,
    outDir: plan.outDir,
    adapters: plan.adapters.map((a) => ({ name: a.name, kind: a.kind, path: a.path })),
    missing: [],
    written: [],
    unchanged: [],
    removed: [],
    warnings: [],
  };
  const baseOptions: BaseModelOptions = {
    engine: plan.engine,
    expertsDir: options.expertsDir,
    ...(options.model ? { model: options.model } : {}),
    ...(options.baseGguf ? { baseGguf: options.baseGguf } : {}),
  };
  const baseGguf = localBaseGguf(experts, baseOptions);
  const inputs = new Set(plan.adapters.filter((a) => a.kind === "expert").map((a) => a.parts[0]!.path));
  for (const path of inputs) if (!(await exists(path))) report.missing.push(path);
  // A base file named only by --model may live where the engine runs; one given to convert with must be here.
  const mustHaveBase = options.baseGguf !== undefined || (baseGguf !== undefined && !options.model);
  if (baseGguf && mustHaveBase && !(await exists(baseGguf))) report.missing.push(baseGguf);
  if (report.dryRun) return report;
  if (report.missing.length > 0) {
    throw new FileFormatError(
      `Missing adapter or model files: ${report.missing.join(", ")}. Train or generate them (adapter paths are ` +
        "relative to the experts folder), or run with --dry-run to list what would be written.",
      report.missing[0],
    );
  }
  const usableBase = baseGguf && (await exists(baseGguf)) ? baseGguf : undefined;
  const check: ExpertCheck = await checkExpertAdapters(plan, { baseGguf: usableBase });
  const baseModel = servedBaseModel(experts, baseOptions, check.trainedOn);
  for (const warning of check.warnings(baseModel)) {
    report.warnings.push(warning);
    emit({ type: "warning", message: warning });
  }

  await mkdir(plan.adaptersDir, { recursive: true });
  const manifest = await EngineManifest.load(join(plan.outDir, "herd-build.json"));
  const baseDigest = usableBase ? await check.baseDigest() : null;
  const ranks = new Map<string, number>();
  for (const [i, planned] of plan.adapters.entries()) {
    options.signal?.throwIfAborted();
    const job = adapterJob(planned, check.source(planned.parts[0]!.path));
    const recipe = sha256Json({
      job,
      format: planned.format,
      dtype: job === "copy" ? null : (options.dtype ?? "auto"),
      base: job === "copy" ? null : baseDigest,
      parts: await Promise.all(
        planned.parts.map(async (p) => [await manifest.adapterDigest(p.path), p.weight]),
      ),
    });
    const record = manifest.output(basename(planned.path));
    if (
      !options.force &&
      record?.recipe === recipe &&
      (await exists(planned.path)) &&
      (await manifest.adapterDigest(planned.path)) === record.digest
    ) {
      ranks.set(planned.name, record.rank);
      report.unchanged.push(planned.name);
      emit({ type: "unchanged", name: planned.name });
      continue;
    }
    emit({
      type: "write",
      name: planned.name,
      path: planned.path,
      job,
      done: i + 1,
      total: plan.adapters.length,
    });
    await writeEngineAdapter(planned, job, {
      ...(options.dtype ? { dtype: options.dtype } : {}),
      ...(usableBase ? { baseGguf: usableBase } : {}),
    });
    const rank = await adapterRank(planned.path);
    manifest.setOutput(basename(planned.path), {
      recipe,
      digest: await manifest.adapterDigest(planned.path),
      rank,
    });
    await manifest.save();
    ranks.set(planned.name, rank);
    report.written.push(planned.name);
  }
  const keep = new Set(plan.adapters.map((a) => basename(a.path)));
  for (const name of manifest.outputs()) {
    if (keep.has(name)) continue;
    const path = join(plan.adaptersDir, name);
    manifest.forget(name, path);
    if (basename(name) !== name || name.startsWith(".")) continue; // not a name this build writes
    await rm(path, { recursive: true, force: true });
    report.removed.push(path);
    emit({ type: "removed", path });
  }
  await manifest.save();

  const input: LaunchInput = {
    plan,
    baseModel,
    ranks,
    port: options.port ?? ENGINE_TRAITS[plan.engine].defaultPort,
  };
  const launch =
    plan.engine === "vllm"
      ? vllmLaunch({ ...input, ...(options.maxLoras !== undefined ? { maxLoras: options.maxLoras } : {}) })
      : plan.engine === "lorax"
        ? loraxLaunch({
            ...input,
            nativeMerge: options.nativeMerge ?? false,
            ...(options.nativeMerge ? await localTokenizerConfig(baseModel) : {}),
          })
        : llamaServerLaunch(input);
  const described = { generatedBy: `herd build --engine ${plan.engine}`, ...launch };
  await writeTextIfChanged(plan.launchFile, `${JSON.stringify(described, null, 2)}\n`);
  await writeTextIfChanged(plan.readmeFile, renderLaunchReadme(launch, ENGINE_TRAITS[plan.engine].label));
  // What the printed `herd serve ... --config-file` reads: settings a --provider flag cannot carry.
  // The blend grid too, so herd serve snaps routing weights to the variants this build made.
  const serveConfig = {
    expertsDir: resolve(options.expertsDir),
    provider: launch.provider,
    blend: { grid: options.grid ?? DEFAULT_BLEND_GRID },
  };
  await writeTextIfChanged(plan.configFile, `${JSON.stringify(serveConfig, null, 2)}\n`);
  report.launchFile = plan.launchFile;
  report.launch = launch;
  return report;
}
