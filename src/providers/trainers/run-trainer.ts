import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { HerdError, type HerdErrorOptions } from "../../core/errors.js";
import type { Trainer } from "./finetune-recipes.js";
import { PEFT_REQUIREMENTS } from "./peft-recipe.js";

/** The trainer a recipe needs is not installed on this machine; the message says how to install it. */
export class TrainerNotInstalledError extends HerdError {
  override readonly code = "trainer_not_installed";
  constructor(message: string, options: HerdErrorOptions = {}) {
    super(message, { status: 500, ...options });
  }
}

/** Where a trainer's output goes while it runs. */
export interface TrainerOutput {
  stdout(chunk: string): void;
  stderr(chunk: string): void;
}

/** The first `name` executable on PATH, or undefined. */
export async function findExecutable(
  name: string,
  path = process.env.PATH ?? "",
): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const file = join(dir, name);
    if (
      await access(file, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return file;
  }
  return undefined;
}

/** How to install a trainer, in one line. */
export function installHint(trainer: Trainer): string {
  return trainer === "axolotl"
    ? "install it on a GPU machine with `pip install axolotl` (https://docs.axolotl.ai), or run the printed command there"
    : `install the Python packages on a GPU machine with \`pip install ${PEFT_REQUIREMENTS.join(" ")}\`, or run the printed command there`;
}

/** Runs a process, streaming its output; resolves with its exit code. */
function run(command: readonly string[], output: TrainerOutput, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ["ignore", "pipe", "pipe"], signal });
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => output.stdout(chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => output.stderr(chunk));
    child.once("error", reject);
    child.once("close", (code, killed) => resolve(code ?? (killed ? 130 : 1)));
  });
}

/**
 * Runs a recipe's command when its trainer is installed, streaming the trainer's progress.
 * @throws TrainerNotInstalledError with one line saying how to install the trainer
 */
export async function runTrainer(
  trainer: Trainer,
  command: readonly string[],
  output: TrainerOutput,
  signal?: AbortSignal,
): Promise<number> {
  const program = await findExecutable(command[0]!);
  if (!program)
    throw new TrainerNotInstalledError(`${command[0]} is not installed: ${installHint(trainer)}.`);
  if (trainer === "peft") {
    let missing = "";
    const check = `import importlib.util, sys; m = [p for p in ${JSON.stringify(PEFT_REQUIREMENTS)} if importlib.util.find_spec(p) is None]; print(" ".join(m)); sys.exit(1 if m else 0)`;
    const code = await run(
      [program, "-c", check],
      {
        stdout: (c) => {
          missing += c;
        },
        stderr: () => {},
      },
      signal,
    );
    if (code !== 0) {
      throw new TrainerNotInstalledError(
        `Python lacks ${missing.trim() || "the training packages"}: ${installHint(trainer)}.`,
      );
    }
  }
  return run([program, ...command.slice(1)], output, signal);
}
