import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { stripBom } from "./bom.js";
import { ExpertConfigError, UnknownExpertError } from "./errors.js";
import type { Expert, ExpertSet } from "./expert.js";

/** The file name of the expert set inside an experts folder. */
export const EXPERTS_FILE = "experts.json";

/** What an expert name may be: it names files (`examples/<name>.jsonl`) and models (`herd-<name>`). */
export const EXPERT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const expertSchema = z.object({
  name: z
    .string()
    .regex(EXPERT_NAME, "must be lowercase letters, digits, '-' or '_' (at most 63 characters)"),
  description: z.string().default(""),
  categories: z.array(z.string()).default([]),
  adapter: z.string().min(1, "must name the adapter file or folder"),
  model: z.string().min(1).optional(),
  examples: z.union([z.string().min(1), z.array(z.string())]),
});

const fileSchema = z.object({
  baseModel: z.string().min(1, "must name the base model"),
  experts: z.array(expertSchema).min(1, "must list at least one expert"),
});

/** The raw shape of an expert in experts.json: `examples` may be inline or a file path (.jsonl or .txt). */
export type ExpertDefinition = z.input<typeof expertSchema>;

function describeIssue(file: string, issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
  return `${file}: ${path.replace(/^\./, "") || "(root)"}: ${issue.message}`;
}

/** Parses example prompts from a .jsonl ({"prompt": ...} or a JSON string per line) or .txt (one per line) file. */
export function parseExamples(text: string, file: string): string[] {
  const prompts: string[] = [];
  const lines = stripBom(text).split(/\r?\n/);
  const jsonl = file.endsWith(".jsonl") || file.endsWith(".json");
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    if (!jsonl) {
      prompts.push(line.trim());
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ExpertConfigError(`${file}:${i + 1}: not valid JSON. Each line must be {"prompt": "..."}.`);
    }
    const prompt = typeof value === "string" ? value : (value as { prompt?: unknown } | null)?.prompt;
    if (typeof prompt !== "string" || prompt.trim() === "") {
      throw new ExpertConfigError(`${file}:${i + 1}: missing a non-empty "prompt" string.`);
    }
    prompts.push(prompt);
  }
  return prompts;
}

/**
 * Validates an expert set given as data (from experts.json or the API). Example file paths are
 * resolved against `baseDir`. Throws ExpertConfigError naming the file and field.
 */
export async function parseExpertSet(
  data: unknown,
  baseDir: string,
  file = EXPERTS_FILE,
): Promise<ExpertSet> {
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new ExpertConfigError(`${describeIssue(file, first)}. Fix the expert set and try again.`);
  }
  const seen = new Set<string>();
  const experts: Expert[] = [];
  for (const [i, def] of parsed.data.experts.entries()) {
    if (seen.has(def.name)) {
      throw new ExpertConfigError(
        `${file}: experts[${i}].name: "${def.name}" appears twice; expert names must be unique.`,
      );
    }
    seen.add(def.name);
    let examples: string[];
    if (typeof def.examples === "string") {
      const path = resolve(baseDir, def.examples);
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch {
        throw new ExpertConfigError(
          `${file}: experts[${i}].examples: cannot read ${path}. Create it (one {"prompt": ...} per line) or fix the path.`,
        );
      }
      examples = parseExamples(text, path);
    } else {
      examples = def.examples.filter((e) => e.trim() !== "");
    }
    if (examples.length === 0) {
      throw new ExpertConfigError(
        `${file}: expert "${def.name}" has no example prompts; add some (its centroid is built from them).`,
      );
    }
    experts.push({
      name: def.name,
      description: def.description,
      categories: def.categories,
      adapter: def.adapter,
      model: def.model ?? `herd-${def.name}`,
      examples,
    });
  }
  return { baseModel: parsed.data.baseModel, experts };
}

/** Loads `<dir>/experts.json` and its example files. */
export async function loadExpertSet(dir: string): Promise<ExpertSet> {
  const file = join(dir, EXPERTS_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ExpertConfigError(
      `Cannot read ${file}. Pass the folder that holds experts.json (--experts-dir).`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(stripBom(text));
  } catch (error) {
    throw new ExpertConfigError(`${file} is not valid JSON (${(error as Error).message}).`);
  }
  return parseExpertSet(data, dirname(file), file);
}

/**
 * Checks an expert given through the API (e.g. `router.addExpert`) with the rules of experts.json:
 * a valid name, an adapter, a model, and at least one non-empty example prompt. Returns a clean copy.
 */
export function validateExpert(expert: Expert): Expert {
  const parsed = expertSchema.safeParse(expert);
  const label = typeof expert?.name === "string" ? `Expert "${expert.name.slice(0, 64)}"` : "The expert";
  if (!parsed.success) {
    throw new ExpertConfigError(`${describeIssue(label, parsed.error.issues[0]!)}. Fix it and add it again.`);
  }
  const { data } = parsed;
  const examples = Array.isArray(data.examples) ? data.examples.filter((e) => e.trim() !== "") : [];
  if (examples.length === 0) {
    throw new ExpertConfigError(
      `${label} has no example prompts; give it some (its centroid is built from them).`,
    );
  }
  return {
    name: data.name,
    description: data.description,
    categories: data.categories,
    adapter: data.adapter,
    model: data.model ?? `herd-${data.name}`,
    examples,
  };
}

/** Finds an expert by name or throws UnknownExpertError listing the known ones. */
export function getExpert(set: ExpertSet, name: string): Expert {
  const expert = set.experts.find((e) => e.name === name);
  if (!expert)
    throw new UnknownExpertError(
      name,
      set.experts.map((e) => e.name),
    );
  return expert;
}
