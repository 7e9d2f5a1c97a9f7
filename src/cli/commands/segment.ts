import { relative, resolve } from "node:path";
import { type Command, Option } from "commander";
import { readExpertCategories } from "../../core/dataset/category-map.js";
import { type SegmentReport, segmentDataset, type TrainingFormat } from "../../core/dataset/segment.js";
import { readExpertsFile } from "../../core/experts-file.js";
import { integer, positiveInt } from "../common-options.js";
import { writableExpertsDir } from "../experts-dir.js";
import { defaultExpertsDir } from "../open-herd.js";

interface SegmentFlags {
  data: string;
  out: string;
  expertsDir?: string;
  categoryField: string;
  textField: string;
  responseField: string;
  format?: TrainingFormat;
  examples?: number;
  examplesDir?: string;
  seed?: number;
  strict?: boolean;
  maxLineBytes?: number;
  keepDuplicates?: boolean;
  json?: boolean;
}

/** `herd segment`: one training file per expert from an instruction dataset, by category. */
export function registerSegmentCommand(program: Command): void {
  program
    .command("segment")
    .description(
      "split an instruction dataset (JSONL or a JSON array) into one training file per expert by category",
    )
    .requiredOption("--data <file>", "the dataset, e.g. airoboros-2.1 as JSON Lines")
    .requiredOption("--out <dir>", "where <expert>.alpaca.jsonl, <expert>.messages.jsonl and report.json go")
    .option("--experts-dir <dir>", "the folder holding experts.json, whose categories map rows to experts")
    .option("--category-field <name>", "the row field holding the category", "category")
    .option("--text-field <name>", "the row field holding the instruction", "instruction")
    .option("--response-field <name>", "the row field holding the answer", "response")
    .addOption(
      new Option("--format <format>", "write only this format (default: both)").choices([
        "alpaca",
        "messages",
      ]),
    )
    .option(
      "--examples <n>",
      "also write a seeded sample of N instructions per expert",
      positiveInt("--examples"),
    )
    .option("--examples-dir <dir>", "where the samples go (default: <experts-dir>/examples)")
    .option("--seed <n>", "the sampling seed (default 42)", integer("--seed"))
    .option("--strict", "stop at the first bad line instead of reporting it")
    .option(
      "--max-line-bytes <n>",
      "skip (and report) longer lines (default 4194304)",
      positiveInt("--max-line-bytes"),
    )
    .option("--keep-duplicates", "write repeated instruction+response rows again")
    .option("--json", "print the report as JSON")
    .action(async (flags: SegmentFlags) => {
      // Samples go into the experts folder: never the bundled one (see writableExpertsDir).
      const expertsDir =
        flags.examples && !flags.examplesDir
          ? writableExpertsDir(flags.expertsDir, "herd segment --examples")
          : flags.expertsDir
            ? resolve(flags.expertsDir)
            : defaultExpertsDir();
      const report = await segmentDataset({
        data: flags.data,
        out: flags.out,
        experts: await readExpertCategories(expertsDir),
        categoryField: flags.categoryField,
        textField: flags.textField,
        responseField: flags.responseField,
        formats: flags.format ? [flags.format] : undefined,
        examples: flags.examples
          ? {
              count: flags.examples,
              dir: flags.examplesDir ?? resolve(expertsDir, "examples"),
              seed: flags.seed,
            }
          : undefined,
        strict: flags.strict,
        maxRecordBytes: flags.maxLineBytes,
        dedupe: flags.keepDuplicates ? false : {},
        onProgress: (rows) => {
          if (process.stderr.isTTY) process.stderr.write(`\rsegment: ${rows} rows read`);
          else if (rows > 0 && rows % 100_000 === 0) process.stderr.write(`segment: ${rows} rows read\n`);
        },
      });
      if (process.stderr.isTTY) process.stderr.write("\n");
      if (report.examplesDir) {
        for (const warning of await unreadSamples(expertsDir, report))
          process.stderr.write(`herd segment: warning: ${warning}\n`);
      }
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    });
}

/**
 * The samples `--examples` wrote that no centroid will read: experts.json gives those experts other
 * `examples` (inline, or another file), one warning each naming the setting that would use them.
 */
async function unreadSamples(expertsDir: string, report: SegmentReport): Promise<string[]> {
  const warnings: string[] = [];
  const { experts } = await readExpertsFile(expertsDir);
  for (const expert of experts) {
    if (!Object.hasOwn(report.experts, expert.name) || !report.experts[expert.name]!.examples) continue;
    const written = resolve(report.examplesDir!, `${expert.name}.jsonl`);
    const used = typeof expert.examples === "string" ? resolve(expertsDir, expert.examples) : undefined;
    if (used === written) continue;
    const path = relative(expertsDir, written);
    warnings.push(
      `the centroid of "${expert.name}" does not read the sample written to ${path}: its experts.json "examples" are elsewhere; set "examples": "${path}" to use it.`,
    );
  }
  return warnings;
}

/** The report as `herd segment` prints it. */
export function formatReport(r: SegmentReport): string {
  const lines = [
    `${r.rows} rows read from ${r.data} (${r.format}) in ${r.seconds.toFixed(1)} s; ${r.written} written to ${r.out}`,
  ];
  for (const [name, e] of Object.entries(r.experts)) {
    const examples = e.examples === undefined ? "" : `, ${e.examples} examples`;
    lines.push(`  ${name.padEnd(12)} ${String(e.rows).padStart(9)} rows${examples}`);
  }
  const unmapped = Object.entries(r.unmapped)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([c, n]) => `${c} (${n})`);
  lines.push(`unmapped: ${r.unmappedRows} rows${unmapped.length ? `: ${unmapped.join(", ")}` : ""}`);
  const memory = r.dedupe.enabled
    ? ` (hash table ${(r.dedupe.bytes / 2 ** 20).toFixed(1)} of at most ${(r.dedupe.maxBytes / 2 ** 20).toFixed(0)} MiB${r.dedupe.saturated ? ", FULL: later duplicates were not detected" : ""})`
    : " (not checked)";
  lines.push(`duplicates: ${r.duplicates}${memory}; empty: ${r.emptyRows}; bad: ${r.badRows}`);
  for (const p of r.problems.slice(0, 5)) lines.push(`  ${p.where}: ${p.problem}`);
  if (r.badRows > 5)
    lines.push(`  ... all ${r.badRows} listed (first ${r.problems.length}) in ${r.out}/report.json`);
  if (r.examplesDir)
    lines.push(`examples for the centroids written to ${r.examplesDir} (next: herd centroids)`);
  return `${lines.join("\n")}\n`;
}
