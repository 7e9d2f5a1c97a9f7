import { resolve } from "node:path";
import { Presets, SingleBar } from "cli-progress";
import { type Command, InvalidArgumentError, Option } from "commander";
import type { HerdConfigInput } from "../core/config.js";
import { loadConfigFile } from "../core/config.js";
import { checkName, UsageError } from "./usage-error.js";

/** Flags shared by the commands that route: where the experts are and which embedder/index to use. */
export interface RoutingFlags {
  configFile?: string;
  expertsDir?: string;
  embedder?: string;
  index?: string;
  chromaUrl?: string;
  ollamaUrl?: string;
  strategy?: string;
}

/** The values of `--strategy` (config `router.strategy`). */
const ROUTING_STRATEGIES = ["linear", "centroid", "knn"] as const;

/** Adds the routing flags to a command. */
export function addRoutingFlags(command: Command): Command {
  return command
    .option("--config-file <file>", "a Herd config file (JSON); flags override it")
    .option(
      "--experts-dir <dir>",
      "the folder holding experts.json (default: ./experts, else the bundled experts)",
    )
    .option("--embedder <name>", "hashing | ollama[:MODEL] | llamacpp:MODEL.gguf (default: hashing, offline)")
    .option("--index <name>", "memory | chroma (default: memory)")
    .option("--chroma-url <url>", "the Chroma server for --index chroma (default: http://127.0.0.1:8000)")
    .option("--ollama-url <url>", "the Ollama server (default: $OLLAMA_HOST or http://127.0.0.1:11434)")
    .addOption(
      new Option("--strategy <name>", "how prompts are routed (default: linear)").choices(ROUTING_STRATEGIES),
    );
}

/** Splits `name:setting` (e.g. `ollama:nomic-embed-text`, `llamacpp:base.gguf`). */
export function splitSpec(spec: string): [string, string | undefined] {
  const i = spec.indexOf(":");
  return i < 0 ? [spec, undefined] : [spec.slice(0, i), spec.slice(i + 1)];
}

/** Builds a Herd config from a config file (if any) and the flags; flags win. */
export async function configFromFlags(
  flags: RoutingFlags,
  defaultExpertsDir: string,
): Promise<HerdConfigInput> {
  const base: HerdConfigInput = flags.configFile
    ? await loadConfigFile(flags.configFile)
    : { expertsDir: defaultExpertsDir };
  const config: HerdConfigInput = { ...base };
  if (flags.expertsDir) config.expertsDir = flags.expertsDir;
  if (flags.embedder) {
    const [name, setting] = splitSpec(flags.embedder);
    checkName("--embedder", "embedders", name);
    const embedder: Record<string, unknown> = { name };
    if (name === "ollama") {
      if (setting) embedder.model = setting;
      if (flags.ollamaUrl) embedder.url = flags.ollamaUrl;
    } else if (name === "llamacpp") {
      if (!setting) {
        throw new UsageError(
          "--embedder llamacpp needs a model file: --embedder llamacpp:path/to/model.gguf",
        );
      }
      // A path on the command line is relative to where the command runs.
      embedder.modelPath = resolve(setting);
    } else if (setting) {
      throw new UsageError(
        `--embedder ${name} takes no ":${setting}" setting: give just --embedder ${name}.`,
      );
    }
    config.embedder = embedder as HerdConfigInput["embedder"];
  } else if (flags.ollamaUrl && (base.embedder as { name?: string } | undefined)?.name === "ollama") {
    config.embedder = {
      ...(base.embedder as object),
      url: flags.ollamaUrl,
    } as HerdConfigInput["embedder"];
  }
  if (flags.index || flags.chromaUrl) {
    const configured = (base.index as Record<string, unknown> | undefined) ?? {};
    // --chroma-url alone means the Chroma index; another index name drops the old index's settings.
    if (flags.index) checkName("--index", "indexes", flags.index);
    const name = flags.index ?? (flags.chromaUrl ? "chroma" : undefined) ?? configured.name ?? "memory";
    const index: Record<string, unknown> = configured.name === name ? { ...configured } : { name };
    if (flags.chromaUrl) {
      if (name !== "chroma") {
        throw new UsageError(`--chroma-url only applies to --index chroma, not --index ${name}.`);
      }
      index.url = flags.chromaUrl;
    }
    config.index = index as HerdConfigInput["index"];
  }
  if (flags.ollamaUrl) {
    const provider = (base.provider as Record<string, unknown> | undefined) ?? {};
    if ((provider.name ?? "ollama") === "ollama")
      config.provider = { ...provider, name: "ollama", url: flags.ollamaUrl };
  }
  if (flags.strategy) {
    config.router = {
      ...((base.router as object | undefined) ?? {}),
      strategy: flags.strategy as (typeof ROUTING_STRATEGIES)[number],
    };
  }
  return config;
}

/**
 * Parses an integer flag (e.g. a seed) as a commander argParser: a bad value is a usage error
 * (exit 2, one line naming the option).
 */
export function integer(flag: string): (value: string) => number {
  return (value: string) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${flag} must be an integer.`);
    return Number(value);
  };
}

/** Parses a positive integer flag as a commander argParser: a bad value is a usage error (exit 2). */
export function positiveInt(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a positive integer.`);
    return n;
  };
}

/** Settings of {@link progress}. */
export interface ProgressOptions {
  /** Print nothing (commands with `--json` keep stderr clean for their machine-readable output). @default false */
  quiet?: boolean;
  /** Where progress goes. @default process.stderr */
  stream?: NodeJS.WriteStream;
}

/**
 * Reports the progress of long work on stderr: a live bar (cli-progress) on a terminal, plain
 * `label done/total (pct%)` lines at 0/25/50/75/100% when stderr is a file or a pipe, nothing when
 * `quiet`. Returns the `(done, total)` callback the SDK's `onProgress` options take.
 */
export function progress(
  label: string,
  options: ProgressOptions = {},
): (done: number, total: number) => void {
  if (options.quiet) return () => {};
  const stream = options.stream ?? process.stderr;
  return stream.isTTY ? progressBar(label, stream) : progressLines(label, stream);
}

function progressBar(label: string, stream: NodeJS.WriteStream): (done: number, total: number) => void {
  let bar: SingleBar | undefined;
  return (done, total) => {
    if (!bar) {
      bar = new SingleBar(
        {
          format: `${label} [{bar}] {value}/{total} {percentage}% | {duration_formatted} elapsed, ETA {eta_formatted}`,
          stream,
          // A bar cut short (an error, Ctrl+C) is never stopped: a hidden cursor would stay hidden
          // in the user's terminal after Herd exits.
          hideCursor: false,
          etaBuffer: 50,
        },
        Presets.shades_classic,
      );
      bar.start(total, done);
    } else {
      if (total !== bar.getTotal()) bar.setTotal(total);
      bar.update(done);
    }
    if (done >= total) {
      bar.stop();
      bar = undefined;
    }
  };
}

function progressLines(label: string, stream: NodeJS.WriteStream): (done: number, total: number) => void {
  let lastStep = -1;
  return (done, total) => {
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
    const step = Math.floor(pct / 25);
    if (step === lastStep && done !== total) return;
    lastStep = step;
    stream.write(`${label} ${done}/${total} (${pct}%)\n`);
  };
}
