import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ExpertConfigError, UnknownExpertError } from "./errors.js";
import type { ExpertSet } from "./expert.js";
import { EXPERT_NAME, EXPERTS_FILE, type ExpertDefinition, parseExpertSet } from "./experts.js";

/** experts.json as written: the expert definitions plus any other fields, kept as they are. */
export interface ExpertsFileData {
  baseModel: string;
  experts: ExpertDefinition[];
  [key: string]: unknown;
}

/** Reads `<dir>/experts.json` as data (example files are not loaded). */
export async function readExpertsFile(dir: string): Promise<ExpertsFileData> {
  const file = join(dir, EXPERTS_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ExpertConfigError(
      `Cannot read ${file} (${(error as Error).message}). Pass the folder holding experts.json with --experts-dir.`,
      { cause: error },
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ExpertConfigError(`${file} is not valid JSON (${(error as Error).message}).`, { cause: error });
  }
  const shape = data as Partial<ExpertsFileData> | null;
  if (typeof shape !== "object" || shape === null || !Array.isArray(shape.experts)) {
    throw new ExpertConfigError(`${file}: expected {"baseModel": ..., "experts": [...]}.`);
  }
  checkExpertNames(file, shape.experts);
  return shape as ExpertsFileData;
}

/**
 * Checks every expert's name is a valid name, before commands use it in file names
 * (`<out>/<name>.alpaca.jsonl`, `<out>/<name>/`, `examples/<name>.jsonl`).
 * @throws ExpertConfigError naming the file and the entry
 */
export function checkExpertNames(file: string, experts: readonly unknown[]): void {
  for (const [i, expert] of experts.entries()) {
    const name =
      typeof expert === "object" && expert !== null && Object.hasOwn(expert, "name")
        ? (expert as { name: unknown }).name
        : undefined;
    if (typeof name !== "string" || !EXPERT_NAME.test(name)) {
      throw new ExpertConfigError(
        `${file}: experts[${i}].name ${JSON.stringify(String(name).slice(0, 64))} must be lowercase letters, digits, '-' or '_' (at most 63 characters).`,
      );
    }
  }
}

/**
 * Validates the data as an expert set (example files must exist) and replaces `<dir>/experts.json`
 * atomically: written to a temporary file and renamed, so a reader (or a crash) never sees half a file.
 */
export async function writeExpertsFile(dir: string, data: ExpertsFileData): Promise<ExpertSet> {
  const file = join(dir, EXPERTS_FILE);
  const set = await parseExpertSet(data, dir, file);
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`);
    await rename(tmp, file);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return set;
}

/** What an edit of experts.json did, so it can be undone. */
export interface ExpertsFileEdit {
  /** The expert set now in the file. */
  set: ExpertSet;
  /** The definition that was replaced or removed, if any. */
  previous: ExpertDefinition | undefined;
  /** Puts the file back as it was before the edit. */
  undo(): Promise<void>;
}

/**
 * Adds an expert to experts.json, or replaces the one of the same name when `replace` is set.
 * @throws ExpertConfigError when the name is taken (and `replace` is not set) or the result is invalid
 */
export async function addExpertToFile(
  dir: string,
  expert: ExpertDefinition,
  options: { replace?: boolean } = {},
): Promise<ExpertsFileEdit> {
  const data = await readExpertsFile(dir);
  const at = data.experts.findIndex((e) => e.name === expert.name);
  if (at >= 0 && !options.replace) {
    throw new ExpertConfigError(
      `Expert "${expert.name}" is already in ${join(dir, EXPERTS_FILE)}: choose another name, or remove it first (herd experts remove ${expert.name}).`,
    );
  }
  const previous = at >= 0 ? data.experts[at] : undefined;
  const experts = at >= 0 ? data.experts.map((e, i) => (i === at ? expert : e)) : [...data.experts, expert];
  return edit(dir, data, { ...data, experts }, previous);
}

/**
 * Removes an expert from experts.json.
 * @throws UnknownExpertError listing the known names; ExpertConfigError when it is the last one
 */
export async function removeExpertFromFile(dir: string, name: string): Promise<ExpertsFileEdit> {
  const data = await readExpertsFile(dir);
  const previous = data.experts.find((e) => e.name === name);
  if (!previous) {
    throw new UnknownExpertError(
      name,
      data.experts.map((e) => e.name),
    );
  }
  if (data.experts.length === 1) {
    throw new ExpertConfigError(
      `"${name}" is the only expert; a herd needs at least one. Add another first.`,
    );
  }
  return edit(dir, data, { ...data, experts: data.experts.filter((e) => e.name !== name) }, previous);
}

async function edit(
  dir: string,
  before: ExpertsFileData,
  after: ExpertsFileData,
  previous: ExpertDefinition | undefined,
): Promise<ExpertsFileEdit> {
  const set = await writeExpertsFile(dir, after);
  return {
    set,
    previous,
    undo: async () => {
      await writeExpertsFile(dir, before);
    },
  };
}
