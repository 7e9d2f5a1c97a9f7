import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ExpertConfigError } from "../errors.js";
import { EXPERTS_FILE } from "../experts.js";
import { checkExpertNames } from "../experts-file.js";

/** An expert's name and the dataset categories it is trained on (experts.json `categories`). */
export interface ExpertCategories {
  name: string;
  categories: readonly string[];
}

const schema = z.object({
  experts: z.array(z.looseObject({ name: z.string().min(1), categories: z.array(z.string()).default([]) })),
});

/** The category of a row as it is matched: trimmed and lower-cased. */
export function normalizeCategory(category: string): string {
  return category.trim().toLowerCase();
}

/**
 * Maps each category to its expert. A category claimed by two experts is an error, because rows
 * could not be split unambiguously.
 * @throws ExpertConfigError naming the category and both experts
 */
export function categoryMap(experts: readonly ExpertCategories[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const expert of experts) {
    for (const raw of expert.categories) {
      const category = normalizeCategory(raw);
      const owner = map.get(category);
      if (owner !== undefined && owner !== expert.name) {
        throw new ExpertConfigError(
          `Category "${raw}" belongs to both "${owner}" and "${expert.name}"; give it to one expert in experts.json.`,
        );
      }
      map.set(category, expert.name);
    }
  }
  if (map.size === 0) {
    throw new ExpertConfigError(
      'No expert lists any categories: add "categories": [...] to the experts in experts.json so rows can be assigned.',
    );
  }
  return map;
}

/**
 * Reads the experts' names and categories from `<dir>/experts.json` without loading their example
 * files (which `herd segment --examples` may be about to write).
 */
export async function readExpertCategories(dir: string): Promise<ExpertCategories[]> {
  const file = join(dir, EXPERTS_FILE);
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new ExpertConfigError(
      `Cannot read ${file} (${(error as Error).message}). Pass the folder holding experts.json with --experts-dir.`,
      { cause: error },
    );
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new ExpertConfigError(`${file}: expected {"experts": [{"name": ..., "categories": [...]}]}.`);
  }
  checkExpertNames(file, parsed.data.experts);
  return parsed.data.experts.map((e) => ({ name: e.name, categories: e.categories }));
}
