import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { errorMessage } from "../core/errors.js";
import { registerBuildCommand } from "./commands/build.js";
import { registerCentroidsCommand } from "./commands/centroids.js";
import { registerEvalCommand } from "./commands/eval.js";
import { registerExpertsCommand } from "./commands/experts.js";
import { registerFinetuneCommand } from "./commands/finetune.js";
import { registerFitCommand } from "./commands/fit.js";
import { registerMergeCommand } from "./commands/merge.js";
import { registerRouteCommand } from "./commands/route.js";
import { registerSegmentCommand } from "./commands/segment.js";
import { registerServeCommand } from "./commands/serve.js";
import { UsageError } from "./usage-error.js";

/**
 * Builds the `herd` command. Each subcommand lives in ./commands/<name>.ts and exports
 * `register<Name>Command(program)`; actions are a few lines that call the SDK.
 */
export function createProgram(): Command {
  const program = new Command()
    .name("herd")
    .description("Serve one base LLM with many expert LoRA adapters, routed per prompt.")
    .version(packageVersion(), "-v, --version")
    .configureOutput({
      // One readable line per usage error, with where to look next.
      outputError: (message, write) =>
        write(`${message.trim().replace(/^error: /, "herd: ")} (see herd --help)\n`),
    })
    .exitOverride();
  registerRouteCommand(program);
  registerCentroidsCommand(program);
  registerEvalCommand(program);
  registerFitCommand(program);
  registerMergeCommand(program);
  registerBuildCommand(program);
  registerServeCommand(program);
  registerSegmentCommand(program);
  registerExpertsCommand(program);
  registerFinetuneCommand(program);
  return program;
}

/** Runs the CLI and returns the exit code: 0 ok, 1 runtime error, 2 usage error. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError) {
      // The same one line as commander's own usage errors (configureOutput above).
      process.stderr.write(`herd: ${error.message} (see herd --help)\n`);
      return 2;
    }
    process.stderr.write(`herd: ${errorMessage(error)}\n`);
    return 1;
  }
}

/** The version in package.json (two folders up from both src/cli and dist/cli). */
function packageVersion(): string {
  const file = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}
