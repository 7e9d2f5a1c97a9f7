import type { Command } from "commander";
import { evaluateRouter, formatReport, readLabeledData } from "../../core/evaluation.js";
import { addRoutingFlags, progress, type RoutingFlags } from "../common-options.js";
import { openHerd } from "../open-herd.js";

interface EvalFlags extends RoutingFlags {
  data: string;
  json?: boolean;
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
      .option(
        "--json",
        "print one JSON object (accuracy, n, perExpert, confusion, latencyMs, ece, coverage, predictions)",
      ),
  ).action(async (flags: EvalFlags) => {
    const data = await readLabeledData(flags.data);
    const herd = await openHerd(flags, { prepare: true }); // train or build first: latency is routing only
    try {
      const report = await evaluateRouter(herd.router, data, { onProgress: progress("routing") });
      process.stdout.write(`${flags.json ? JSON.stringify(report) : formatReport(report)}\n`);
    } finally {
      await herd.close();
    }
  });
}
