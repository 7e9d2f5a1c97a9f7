import { mkdir, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ConfigError, InvalidInputError } from "../errors.js";
import { BatchedFileWriter as Writer } from "./batched-writer.js";
import { categoryMap, type ExpertCategories, normalizeCategory } from "./category-map.js";
import { DEFAULT_MAX_RECORD_BYTES, detectDatasetFormat, readDatasetRows } from "./dataset-rows.js";
import { Hash64Set, type Hash64SetOptions } from "./hash-set.js";
import { Reservoir } from "./reservoir.js";

/** A training-file format: alpaca (`instruction`/`input`/`output`) or chat `messages`. */
export type TrainingFormat = "alpaca" | "messages";

/** Every training format, in the order files are written. */
export const TRAINING_FORMATS: readonly TrainingFormat[] = ["alpaca", "messages"];

/** Settings of {@link segmentDataset}. */
export interface SegmentOptions {
  /** The dataset: JSON Lines, or one JSON array of rows. */
  data: string;
  /** The folder the training files and report.json go to (created if missing). */
  out: string;
  /** The experts and their categories (see readExpertCategories for experts.json). */
  experts: readonly ExpertCategories[];
  /** The row field holding the category. @default "category" */
  categoryField?: string;
  /** The row field holding the instruction (the prompt). @default "instruction" */
  textField?: string;
  /** The row field holding the answer. @default "response" */
  responseField?: string;
  /** Which training files to write. @default ["alpaca", "messages"] */
  formats?: readonly TrainingFormat[];
  /** Also write a seeded sample of `count` instructions per expert to `dir/<expert>.jsonl` ({"prompt"} lines). */
  examples?: { count: number; dir: string; seed?: number };
  /** Stop at the first bad line instead of reporting it. @default false */
  strict?: boolean;
  /** The largest line (or JSON array element) read, in bytes. @default 4 MiB */
  maxRecordBytes?: number;
  /** Duplicate detection (instruction + response): table size, or false to keep duplicates. @default {} */
  dedupe?: Hash64SetOptions | false;
  /** Called now and then with the rows read so far. */
  onProgress?: (rows: number) => void;
  signal?: AbortSignal;
}

/** What a segmentation wrote and skipped (also saved as `<out>/report.json`). */
export interface SegmentReport {
  data: string;
  format: "jsonl" | "json-array";
  out: string;
  /** Rows read (bad lines included). */
  rows: number;
  /** Rows written to some expert's training file. */
  written: number;
  /** Per expert: rows written and the files. */
  experts: Record<
    string,
    { rows: number; files: Partial<Record<TrainingFormat, string>>; examples?: number }
  >;
  /** Rows whose category no expert lists, by category (`(missing)` when the field is absent). */
  unmapped: Record<string, number>;
  unmappedRows: number;
  /** Rows dropped because the same instruction and response came earlier. */
  duplicates: number;
  /** Rows with an empty instruction or response. */
  emptyRows: number;
  /** Lines that were not JSON objects, too long, or had non-text fields. */
  badRows: number;
  /** The first problems, with where they are (`line 14`). */
  problems: { where: string; problem: string }[];
  /** The duplicate detector: distinct rows remembered, its memory, and whether it filled up. */
  dedupe: { enabled: boolean; distinct: number; bytes: number; maxBytes: number; saturated: boolean };
  /** Where the example samples went, when asked for. */
  examplesDir?: string;
  seconds: number;
}

/** At most this many distinct unmapped categories are counted by name; the rest go under `(other)`. */
const MAX_UNMAPPED_NAMES = 1000;
/** At most this many problems are listed in the report (all are counted). */
const MAX_PROBLEMS = 100;

/**
 * Splits an instruction dataset into one training file per expert by each row's category, in
 * constant memory (rows are streamed; duplicates are found with a bounded hash table). Writes
 * `<out>/<expert>.<format>.jsonl` and `<out>/report.json`; files appear only when the run succeeds.
 *
 * @example
 * const report = await segmentDataset({
 *   data: "airoboros-2.1.jsonl", out: "segments",
 *   experts: await readExpertCategories("experts"), examples: { count: 100, dir: "experts/examples" },
 * });
 * report.experts.code.rows;
 */
export async function segmentDataset(options: SegmentOptions): Promise<SegmentReport> {
  const started = performance.now();
  const byCategory = categoryMap(options.experts);
  const formats = checkFormats(options.formats ?? TRAINING_FORMATS);
  const fields = {
    category: options.categoryField ?? "category",
    text: options.textField ?? "instruction",
    response: options.responseField ?? "response",
  };
  const out = resolve(options.out);
  await mkdir(out, { recursive: true });
  const format = await detectDatasetFormat(options.data);
  const names = [...new Set(byCategory.values())];
  const writers = new Map<string, Map<TrainingFormat, Writer>>();
  for (const name of names) {
    writers.set(name, new Map(formats.map((f) => [f, new Writer(join(out, `${name}.${f}.jsonl`))])));
  }
  const samples = options.examples
    ? new Map(
        names.map((n) => [n, new Reservoir<string>(options.examples!.count, options.examples!.seed ?? 42)]),
      )
    : undefined;
  const seen = options.dedupe === false ? undefined : new Hash64Set(options.dedupe ?? {});
  const report: SegmentReport = {
    data: resolve(options.data),
    format,
    out,
    rows: 0,
    written: 0,
    experts: Object.fromEntries(names.map((n) => [n, { rows: 0, files: {} }])),
    unmapped: {},
    unmappedRows: 0,
    duplicates: 0,
    emptyRows: 0,
    badRows: 0,
    problems: [],
    dedupe: {
      enabled: seen !== undefined,
      distinct: 0,
      bytes: 0,
      maxBytes: seen?.maxBytes ?? 0,
      saturated: false,
    },
    seconds: 0,
  };
  const bad = (where: string, problem: string) => {
    if (options.strict) {
      throw new InvalidInputError(
        `${options.data}: ${where}: ${problem} (--strict stops at the first bad row).`,
        where,
      );
    }
    report.badRows++;
    if (report.problems.length < MAX_PROBLEMS) report.problems.push({ where, problem });
  };
  const unmapped = new Map<string, number>();
  let succeeded = false;
  try {
    for await (const record of readDatasetRows(options.data, {
      maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
      signal: options.signal,
    })) {
      report.rows++;
      if (report.rows % 10_000 === 0) options.onProgress?.(report.rows);
      if (record.problem !== undefined) {
        bad(record.where, record.problem);
        continue;
      }
      const row = record.row;
      if (typeof row !== "object" || row === null || Array.isArray(row)) {
        bad(record.where, "not a JSON object");
        continue;
      }
      const text = field(row, fields.text);
      const response = field(row, fields.response);
      const category = field(row, fields.category);
      if (text === null || response === null || category === null) {
        const which = text === null ? fields.text : response === null ? fields.response : fields.category;
        bad(record.where, `"${which}" is not a string`);
        continue;
      }
      if (text === undefined || response === undefined || text.trim() === "" || response.trim() === "") {
        report.emptyRows++;
        continue;
      }
      const expert = category === undefined ? undefined : byCategory.get(normalizeCategory(category));
      if (expert === undefined) {
        report.unmappedRows++;
        const key = category === undefined ? "(missing)" : normalizeCategory(category).slice(0, 100);
        // A Map: a category is data ("__proto__" must count like any other).
        const name = unmapped.has(key) || unmapped.size < MAX_UNMAPPED_NAMES ? key : "(other)";
        unmapped.set(name, (unmapped.get(name) ?? 0) + 1);
        continue;
      }
      if (seen && !seen.add(`${text}\u0000${response}`)) {
        report.duplicates++;
        continue;
      }
      for (const [f, writer] of writers.get(expert)!) await writer.write(trainingLine(f, text, response));
      samples?.get(expert)?.offer(text);
      report.experts[expert]!.rows++;
      report.written++;
    }
    options.onProgress?.(report.rows);
    report.unmapped = Object.fromEntries(unmapped);
    for (const [name, files] of writers) {
      for (const [f, writer] of files) report.experts[name]!.files[f] = await writer.commit();
    }
    if (options.examples && samples) {
      report.examplesDir = resolve(options.examples.dir);
      await writeExamples(report, samples, report.examplesDir);
    }
    succeeded = true;
  } finally {
    if (!succeeded)
      await Promise.all([...writers.values()].flatMap((m) => [...m.values()].map((w) => w.discard())));
  }
  if (seen) {
    report.dedupe = {
      enabled: true,
      distinct: seen.size,
      bytes: seen.bytes,
      maxBytes: seen.maxBytes,
      saturated: seen.saturated,
    };
  }
  report.seconds = (performance.now() - started) / 1000;
  await writeFile(join(out, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

function checkFormats(formats: readonly string[]): TrainingFormat[] {
  for (const f of formats) {
    if (!(TRAINING_FORMATS as readonly string[]).includes(f)) {
      throw new ConfigError(
        `Unknown training format "${f}": use ${TRAINING_FORMATS.join(" or ")}.`,
        "format",
      );
    }
  }
  if (formats.length === 0) throw new ConfigError("Choose at least one training format.", "format");
  return [...new Set(formats)] as TrainingFormat[];
}

/** A string field (undefined when absent or null, null when present but not a string). */
function field(row: object, key: string): string | undefined | null {
  if (!Object.hasOwn(row, key)) return undefined;
  const value = (row as Record<string, unknown>)[key];
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : null;
}

/** One training example as a JSONL line in the given format. */
export function trainingLine(format: TrainingFormat, instruction: string, response: string): string {
  const record =
    format === "alpaca"
      ? { instruction, input: "", output: response }
      : {
          messages: [
            { role: "user", content: instruction },
            { role: "assistant", content: response },
          ],
        };
  return `${JSON.stringify(record)}\n`;
}

async function writeExamples(
  report: SegmentReport,
  samples: ReadonlyMap<string, Reservoir<string>>,
  dir: string,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, reservoir] of samples) {
    if (reservoir.sample.length === 0) continue;
    const text = reservoir.sample.map((prompt) => `${JSON.stringify({ prompt })}\n`).join("");
    const file = join(dir, `${name}.jsonl`);
    await writeFile(`${file}.partial`, text);
    await rename(`${file}.partial`, file);
    report.experts[name]!.examples = reservoir.sample.length;
  }
}
