import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { HerdError } from "../../core/errors.js";
import { readExpertsFile } from "../../core/experts-file.js";
import { shellQuote } from "../../providers/engines-build/shell-quote.js";
import {
  type Trainer,
  trainingBaseModel,
  writeFinetuneRecipes,
} from "../../providers/trainers/finetune-recipes.js";
import { runTrainer } from "../../providers/trainers/run-trainer.js";
import { defaultExpertsDir } from "../open-herd.js";
import { UsageError } from "../usage-error.js";

interface FinetuneFlags {
  expert?: string[];
  all?: boolean;
  trainer: Trainer;
  out: string;
  data: string;
  baseModel?: string;
  expertsDir?: string;
  run?: boolean;
  json?: boolean;
}

/** `herd finetune`: a runnable QLoRA recipe per expert for axolotl or transformers/peft; --run trains. */
export function registerFinetuneCommand(program: Command): void {
  program
    .command("finetune")
    .description("write a QLoRA fine-tuning recipe per expert (axolotl YAML or a peft script); --run trains")
    .option("--expert <name...>", "the expert(s) to train")
    .option("--all", "every expert in experts.json")
    .addOption(new Option("--trainer <name>", "the trainer").choices(["axolotl", "peft"]).default("axolotl"))
    .requiredOption(
      "--out <dir>",
      "where the recipes go (<out>/<expert>/); adapters land in <out>/<expert>/adapter",
    )
    .option("--data <dir>", "the training files from herd segment --out", "segments")
    .option(
      "--base-model <id>",
      "the Hugging Face model to train on (default: from experts.json's baseModel)",
    )
    .option(
      "--experts-dir <dir>",
      "the folder holding experts.json (default: ./experts, else the bundled experts)",
    )
    .option("--run", "run the trainer now (it must be installed), streaming its output")
    .option("--json", "print the recipes as JSON")
    .action(async (flags: FinetuneFlags, command: Command) => {
      const trainer = flags.trainer;
      if (Boolean(flags.all) === Boolean(flags.expert?.length)) {
        const both = flags.all ? ", not both" : "";
        command.error(`error: pass --expert NAME (one or more) or --all${both}.`, {
          exitCode: 2,
          code: "herd.usage",
        });
      }
      const file = await readExpertsFile(flags.expertsDir ? resolve(flags.expertsDir) : defaultExpertsDir());
      const known = file.experts.map((e) => e.name);
      const experts = flags.all ? known : flags.expert!;
      for (const name of experts) {
        if (!known.includes(name))
          throw new UsageError(
            `--expert "${name}" is not in experts.json; known experts: ${known.join(", ")}.`,
          );
      }
      const baseModel = flags.baseModel ?? trainingBaseModel(file.baseModel);
      const recipes = await writeFinetuneRecipes({
        experts,
        trainer,
        baseModel,
        dataDir: flags.data,
        out: flags.out,
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ trainer, baseModel, recipes }, null, 2)}\n`);
      } else {
        const lines = [
          `${trainer} recipes for ${experts.join(", ")} on ${baseModel} (QLoRA r=64, alpha=16, 4-bit nf4):`,
        ];
        for (const r of recipes) {
          lines.push(
            `  ${r.expert}: ${r.files.join(", ")}`,
            `    run: ${r.command.map(shellQuote).join(" ")}`,
          );
        }
        lines.push(
          "then, per expert: herd experts add --name <expert> --adapter <out>/<expert>/adapter --examples <prompts> --base <base.gguf>",
        );
        process.stdout.write(`${lines.join("\n")}\n`);
      }
      if (!flags.run) return;
      for (const r of recipes) {
        process.stderr.write(`herd finetune: training ${r.expert}: ${r.command.map(shellQuote).join(" ")}\n`);
        const code = await runTrainer(trainer, r.command, {
          stdout: (chunk) => process.stdout.write(chunk),
          stderr: (chunk) => process.stderr.write(chunk),
        });
        if (code !== 0)
          throw new HerdError(`${r.command[0]} exited with code ${code} while training ${r.expert}.`);
      }
    });
}
