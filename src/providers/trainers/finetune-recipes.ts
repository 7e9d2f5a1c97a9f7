import { access, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConfigError, InvalidInputError } from "../../core/errors.js";
import { axolotlCommand, axolotlRecipe, type RecipeInput } from "./axolotl-recipe.js";
import { PEFT_SCRIPT, peftCommand, peftConfig } from "./peft-recipe.js";

/** The trainers Herd writes recipes for. */
export type Trainer = "axolotl" | "peft";

/** Settings of {@link writeFinetuneRecipes}. */
export interface FinetuneRecipesOptions {
  /** The experts to write recipes for. */
  experts: readonly string[];
  trainer: Trainer;
  /** The Hugging Face model (or local folder) the adapters are trained on. */
  baseModel: string;
  /** The folder `herd segment --out` wrote (`<expert>.messages.jsonl` / `<expert>.alpaca.jsonl`). */
  dataDir: string;
  /** Where the recipes go: `<out>/<expert>/...`; adapters go to `<out>/<expert>/adapter`. */
  out: string;
}

/** One expert's recipe: its files and the command that trains it. */
export interface FinetuneRecipe {
  expert: string;
  dataFile: string;
  files: string[];
  outputDir: string;
  command: string[];
}

/** Ollama tags of the common bases and the Hugging Face models they were converted from. */
const OLLAMA_TO_HF: Readonly<Record<string, string>> = {
  "llama3.2:1b": "meta-llama/Llama-3.2-1B-Instruct",
  "llama3.2:3b": "meta-llama/Llama-3.2-3B-Instruct",
  "llama3.2": "meta-llama/Llama-3.2-3B-Instruct",
  "llama3.1:8b": "meta-llama/Llama-3.1-8B-Instruct",
  "qwen2.5:0.5b": "Qwen/Qwen2.5-0.5B-Instruct",
  "qwen2.5:1.5b": "Qwen/Qwen2.5-1.5B-Instruct",
  "qwen2.5:7b": "Qwen/Qwen2.5-7B-Instruct",
  "mistral:7b": "mistralai/Mistral-7B-Instruct-v0.3",
};

/**
 * The model a trainer loads for experts.json's base: a Hugging Face id or folder as is, a known
 * Ollama tag as the model it was converted from.
 * @throws ConfigError when the base is an Ollama tag Herd does not know (pass --base-model)
 */
export function trainingBaseModel(baseModel: string): string {
  if (Object.hasOwn(OLLAMA_TO_HF, baseModel)) return OLLAMA_TO_HF[baseModel]!;
  if (baseModel.includes("/") && !/\.gguf$/i.test(baseModel)) return baseModel;
  throw new ConfigError(
    `The base model "${baseModel}" is not a Hugging Face model a trainer can load: pass --base-model <org/name> ` +
      "(the unquantized model your Ollama or GGUF base was made from).",
    "base-model",
  );
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** The expert's training file: chat messages when present (trained with the model's chat template), else alpaca. */
async function dataFileOf(
  dataDir: string,
  expert: string,
): Promise<Pick<RecipeInput, "dataFile" | "dataFormat">> {
  for (const format of ["messages", "alpaca"] as const) {
    const file = resolve(dataDir, `${expert}.${format}.jsonl`);
    if (await exists(file)) return { dataFile: file, dataFormat: format };
  }
  throw new InvalidInputError(
    `No training data for expert "${expert}" in ${resolve(dataDir)}: run herd segment --data <dataset> --out ${dataDir} first.`,
    "data",
  );
}

/**
 * Writes a runnable fine-tuning recipe per expert: an axolotl YAML, or a transformers/peft script
 * plus its config.json, with the original Herd's QLoRA settings. Herd does not train; the recipes
 * run on a GPU machine (see each recipe's `command`).
 */
export async function writeFinetuneRecipes(options: FinetuneRecipesOptions): Promise<FinetuneRecipe[]> {
  if (options.experts.length === 0)
    throw new ConfigError("Name an expert (--expert NAME) or pass --all.", "expert");
  const inputs: RecipeInput[] = [];
  for (const expert of options.experts) {
    const data = await dataFileOf(options.dataDir, expert);
    const dir = resolve(options.out, expert);
    inputs.push({ expert, baseModel: options.baseModel, ...data, outputDir: join(dir, "adapter") });
  }
  const recipes: FinetuneRecipe[] = [];
  for (const input of inputs) {
    const dir = resolve(options.out, input.expert);
    await mkdir(dir, { recursive: true });
    if (options.trainer === "axolotl") {
      const file = join(dir, "axolotl.yml");
      await writeFile(file, axolotlRecipe(input, file));
      recipes.push({ ...base(input), files: [file], command: axolotlCommand(file) });
    } else {
      const script = join(dir, "train.py");
      const config = join(dir, "config.json");
      await writeFile(script, PEFT_SCRIPT, { mode: 0o755 });
      await writeFile(config, `${JSON.stringify(peftConfig(input), null, 2)}\n`);
      recipes.push({ ...base(input), files: [script, config], command: peftCommand(script, config) });
    }
  }
  return recipes;
}

function base(input: RecipeInput): Pick<FinetuneRecipe, "expert" | "dataFile" | "outputDir"> {
  return { expert: input.expert, dataFile: input.dataFile, outputDir: input.outputDir };
}
