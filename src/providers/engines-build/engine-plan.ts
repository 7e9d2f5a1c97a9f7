import { join, posix, resolve } from "node:path";
import { ExpertConfigError } from "../../core/errors.js";
import type { ExpertSet } from "../../core/expert.js";
import type { AdapterFormat } from "../adapters/lora-adapter.js";
import { planOllamaBuild } from "../ollama-build/build-plan.js";
import { ENGINE_TRAITS, type EngineName } from "./engines.js";

/** Settings of {@link planEngineBuild}. */
export interface EnginePlanOptions {
  engine: EngineName;
  /** The folder holding experts.json; adapter paths are relative to it. */
  expertsDir: string;
  /** The build folder: adapters go to `<outDir>/adapters`, the launch description to `<outDir>/launch.json`. */
  outDir: string;
  /**
   * Where the engine sees `outDir` (e.g. `/data` when the folder is mounted into a container).
   * @default the absolute path of `outDir`
   */
  engineDir?: string;
  /** The blend weight grid step, as for the Ollama build. @default 0.25 */
  grid?: number;
  /** The expert pairs to blend, as for the Ollama build. @default every pair */
  pairs?: readonly (readonly [string, string])[];
  /** LoRAX only: blends are merged by LoRAX per request (`merged_adapters`), so none are prebuilt. @default false */
  nativeMerge?: boolean;
}

/** One part of a planned adapter: an expert's adapter and its weight (1 for an expert on its own). */
export interface PlannedPart {
  expert: string;
  /** Absolute path of the expert's adapter (GGUF file or PEFT folder). */
  path: string;
  weight: number;
}

/** One adapter the engine serves, and what it is made of. */
export interface PlannedEngineAdapter {
  /** The served name: `expertModelName`/experts.json `model`, or `blendModelName(parts)`. */
  name: string;
  kind: "expert" | "blend";
  /** The expert adapter (one part, weight 1) or the blend's two experts and weights. */
  parts: PlannedPart[];
  /** Where the build writes it (absolute). */
  path: string;
  /** Where the engine finds it (`engineDir` based), for the launch arguments. */
  servedPath: string;
  format: AdapterFormat;
}

/** What `herd build --engine` will write. */
export interface EnginePlan {
  engine: EngineName;
  outDir: string;
  /** `<outDir>/adapters`, absolute. */
  adaptersDir: string;
  /** The adapters folder as the engine sees it (LoRAX's `adapterDir`). */
  servedAdaptersDir: string;
  /** `<outDir>/launch.json`. */
  launchFile: string;
  /** `<outDir>/README.txt`. */
  readmeFile: string;
  /** `<outDir>/herd.config.json`: the experts folder and provider settings `herd serve --config-file` reads. */
  configFile: string;
  /** Experts first, in experts.json order (llama-server ids follow it), then blends. */
  adapters: PlannedEngineAdapter[];
}

function joinServed(dir: string, name: string): string {
  // A container path is POSIX whatever the host; a host path uses the host's separator.
  return dir.startsWith("/") ? posix.join(dir, name) : join(dir, name);
}

/**
 * Plans an engine build: one adapter per expert and, for engines that cannot blend per request,
 * one merged adapter per two-expert blend on the grid. The blend list is the Ollama build's
 * ({@link planOllamaBuild}), so every engine serves the same variants under the same names.
 * Pure: reads nothing, so `--dry-run` works before any adapter exists.
 */
export function planEngineBuild(experts: ExpertSet, options: EnginePlanOptions): EnginePlan {
  const traits = ENGINE_TRAITS[options.engine];
  const outDir = resolve(options.outDir);
  const adaptersDir = join(outDir, "adapters");
  const servedAdaptersDir = joinServed(options.engineDir ?? outDir, "adapters");
  const models = planOllamaBuild(experts, {
    expertsDir: options.expertsDir,
    ...(options.grid !== undefined ? { grid: options.grid } : {}),
    ...(options.pairs ? { pairs: options.pairs } : {}),
  });
  const file = (name: string) => (traits.format === "gguf" ? `${name}.gguf` : name);
  const adapters: PlannedEngineAdapter[] = [];
  const withBlends = traits.prebuiltBlends && !(options.engine === "lorax" && options.nativeMerge);
  let expertIndex = 0;
  for (const model of models) {
    if (model.kind === "base" || (model.kind === "blend" && !withBlends)) continue;
    // planOllamaBuild lists the experts in experts.json order, right after the base.
    const parts =
      model.kind === "blend"
        ? model.merge!.map((m) => ({ ...m }))
        : [{ expert: experts.experts[expertIndex++]!.name, path: model.adapter!, weight: 1 }];
    if (adapters.some((a) => a.name === model.model)) {
      throw new ExpertConfigError(
        `Two adapters would be served as "${model.model}": give every expert its own "model" name in experts.json.`,
      );
    }
    adapters.push({
      name: model.model,
      kind: model.kind,
      parts,
      path: join(adaptersDir, file(model.model)),
      servedPath: joinServed(servedAdaptersDir, file(model.model)),
      format: traits.format,
    });
  }
  return {
    engine: options.engine,
    outDir,
    adaptersDir,
    servedAdaptersDir,
    launchFile: join(outDir, "launch.json"),
    readmeFile: join(outDir, "README.txt"),
    configFile: join(outDir, "herd.config.json"),
    adapters,
  };
}
