import { writeFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import { ConfigError } from "../../core/errors.js";
import { renderHtmlReport, renderMarkdownReport } from "../../core/eval-report/index.js";
import { evaluateRouter, formatReport, readLabeledData } from "../../core/evaluation.js";
import { addRoutingFlags, progress, type RoutingFlags } from "../common-options.js";
import { openHerd } from "../open-herd.js";
import { UsageError } from "../usage-error.js";

interface EvalFlags extends RoutingFlags {
  data: string;
  json?: boolean;
  format?: "text" | "markdown" | "json";
  report?: string;
}

/** `herd eval --data FILE.jsonl`: routing accuracy on labeled prompts. */
export function registerEvalCommand(program: Command): void {
  addRoutingFlags(
    program
      .command("eval")
      .description(
        'measure routing accuracy, calibration (ECE) and the coverage/accuracy curve on labeled prompts (JSONL lines {"prompt", "expert"})',
      )
      .requiredOption("--data <file>", "the labeled JSONL file")
      .addOption(
        new Option("--format <format>", "what to print: text, markdown (for CI logs) or json").choices([
          "text",
          "markdown",
          "json",
        ]),
      )
      .option(
        "--json",
        "print one JSON object (same as --format json: accuracy, n, perExpert, confusion, latencyMs, ece, coverage, predictions)",
      )
      .option(
        "--report <file.html>",
        "also write a self-contained HTML report (confusion heat map, precision/recall, coverage curve, misrouted prompts)",
      ),
  ).action(async (flags: EvalFlags) => {
    if (flags.json && flags.format && flags.format !== "json") {
      throw new UsageError(`--json and --format ${flags.format} disagree; pick one.`);
    }
    const format = flags.json ? "json" : (flags.format ?? "text");
    const data = await readLabeledData(flags.data);
    const herd = await openHerd(flags, { prepare: true }); // train or build first: latency is routing only
    try {
      const report = await evaluateRouter(herd.router, data, {
        onProgress: progress("routing", { quiet: format === "json" }),
      });
      if (flags.report) {
        try {
          await writeFile(flags.report, renderHtmlReport(report));
        } catch (error) {
          throw new ConfigError(
            `Cannot write the report to ${flags.report}: ${(error as Error).message}. Check --report.`,
            "--report",
          );
        }
      }
      const text =
        format === "json"
          ? JSON.stringify(report)
          : format === "markdown"
            ? renderMarkdownReport(report).trimEnd()
            : formatReport(report);
      process.stdout.write(`${text}\n`);
      if (flags.report && format !== "json") process.stderr.write(`HTML report written to ${flags.report}\n`);
    } finally {
      await herd.close();
    }
  });
}
