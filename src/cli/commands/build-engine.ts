import { basename, isAbsolute, relative } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { ExpertSet } from "../../core/expert.js";
import type { FloatDType } from "../../providers/adapters/dtype.js";
import {
  buildForEngine,
  ENGINE_TRAITS,
  type EngineBuildEvent,
  type EngineBuildReport,
  type EngineName,
  launchSteps,
} from "../../providers/engines-build/index.js";

/** The `herd build` flags an engine build reads. */
export interface EngineBuildFlags {
  out?: string;
  model?: string;
  baseGguf?: string;
  engineDir?: string;
  port?: number;
  maxLoras?: number;
  nativeMerge?: boolean;
  ollamaUrl?: string;
  mergedDir?: string;
}

/** Flags that only some builds take, and which builds: giving one to another build is a usage error. */
const ONLY_FOR: readonly [flag: string, key: keyof EngineBuildFlags, builds: readonly string[]][] = [
  ["--model", "model", ["vllm", "lorax", "llama-server"]],
  ["--base-gguf", "baseGguf", ["vllm", "lorax", "llama-server"]],
  ["--engine-dir", "engineDir", ["vllm", "lorax", "llama-server"]],
  ["--port", "port", ["vllm", "lorax", "llama-server"]],
  ["--max-loras", "maxLoras", ["vllm"]],
  ["--native-merge", "nativeMerge", ["lorax"]],
  ["--ollama-url", "ollamaUrl", ["ollama"]],
  ["--merged-dir", "mergedDir", ["ollama"]],
];

/** Exits with a usage error (code 2) when a flag does not apply to the chosen build. */
export function checkFlagsFor(command: Command, build: string, flags: EngineBuildFlags): void {
  for (const [flag, key, builds] of ONLY_FOR) {
    if (flags[key] !== undefined && !builds.includes(build)) {
      command.error(`error: ${flag} applies to --engine ${builds.join(" | ")}, not to --engine ${build}.`, {
        exitCode: 2,
        code: "herd.usage",
      });
    }
  }
}

/** Parses a TCP port flag value (commander argParser). */
export function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new InvalidArgumentError("expected a port, 1 to 65535.");
  return n;
}

/** Prints engine build progress on stderr, one line per adapter. */
export function printEngineEvent(write: (line: string) => void = (l) => process.stderr.write(l)) {
  return (event: EngineBuildEvent): void => {
    if (event.type === "write") write(`writing ${event.name} (${event.job}, ${event.done}/${event.total})\n`);
    else if (event.type === "unchanged") write(`${event.name}: unchanged\n`);
    else if (event.type === "removed") write(`removed ${shown(event.path)}\n`);
    else write(`warning: ${event.message}\n`);
  };
}

/** A path as the user would type it: relative to the working directory when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

/** The summary `herd build --engine` prints on stdout. */
export function describeEngineReport(report: EngineBuildReport): string {
  const label = ENGINE_TRAITS[report.engine].label;
  const where = shown(report.outDir);
  const lines: string[] = [];
  if (report.dryRun) {
    lines.push(
      `dry run: would write ${report.adapters.length} adapters for ${label} and launch.json in ${where}:`,
      ...report.adapters.map((a) => `  adapters/${basename(a.path)} (${a.kind})`),
    );
    if (report.missing.length > 0) {
      lines.push(
        `missing adapter files (${report.missing.length}):`,
        ...report.missing.map((m) => `  ${shown(m)}`),
      );
    }
    return `${lines.join("\n")}\n`;
  }
  const launch = report.launch!;
  lines.push(
    `${report.adapters.length} adapters for ${label} in ${where}/adapters: ${report.written.length} written, ` +
      `${report.unchanged.length} unchanged, ${report.removed.length} removed; launch arguments in ${where}/launch.json`,
    "",
    `Start ${label}:`,
    ...launchSteps(launch),
    "",
    ...launch.notes.map((n) => `- ${n}`),
  );
  return `${lines.join("\n")}\n`;
}

/** Runs `herd build --engine E` with the parsed flags and prints the result. */
export async function runEngineBuild(
  engine: EngineName,
  experts: ExpertSet,
  flags: EngineBuildFlags & {
    expertsDir: string;
    grid: number;
    pairs?: [string, string][];
    dtype: FloatDType | "auto";
    dryRun?: boolean;
    force?: boolean;
    json?: boolean;
  },
): Promise<void> {
  const report = await buildForEngine(experts, {
    engine,
    expertsDir: flags.expertsDir,
    outDir: flags.out ?? `herd-${engine}`,
    grid: flags.grid,
    ...(flags.pairs ? { pairs: flags.pairs } : {}),
    ...(flags.model ? { model: flags.model } : {}),
    ...(flags.baseGguf ? { baseGguf: flags.baseGguf } : {}),
    ...(flags.engineDir ? { engineDir: flags.engineDir } : {}),
    ...(flags.port !== undefined ? { port: flags.port } : {}),
    ...(flags.maxLoras !== undefined ? { maxLoras: flags.maxLoras } : {}),
    nativeMerge: flags.nativeMerge ?? false,
    dtype: flags.dtype,
    dryRun: flags.dryRun ?? false,
    force: flags.force ?? false,
    onEvent: printEngineEvent(),
  });
  process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : describeEngineReport(report));
}
