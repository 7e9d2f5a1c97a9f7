import { readFile } from "node:fs/promises";
import { stripBom } from "./bom.js";
import { InvalidInputError } from "./errors.js";
import { type CoveragePoint, coverageCurve, expectedCalibrationError } from "./routing/calibration.js";
import type { RouteOptions, RouterService } from "./routing.js";

/** One labeled prompt. */
export interface LabeledPrompt {
  prompt: string;
  expert: string;
}

/** Precision, recall and F1 of one expert. */
export interface ExpertScore {
  precision: number;
  recall: number;
  f1: number;
  /** Prompts labeled with this expert. */
  support: number;
}

/** The result of routing a labeled data set. */
export interface EvaluationReport {
  /** Share of prompts routed to their labeled expert, 0..1. */
  accuracy: number;
  n: number;
  perExpert: Record<string, ExpertScore>;
  /** confusion[labeled][routed] = count. */
  confusion: Record<string, Record<string, number>>;
  /** The experts in row/column order. */
  labels: string[];
  latencyMs: { mean: number; p50: number; p99: number };
  embedder: string;
  strategy: string;
  /**
   * Every prompt in data order: its label, where it was routed (`(base)` below the threshold) and
   * the router's confidence in its top expert.
   */
  predictions: { prompt: string; expert: string; routed: string; confidence: number }[];
  /**
   * Routing only when the confidence in the top expert is at least `threshold` (else the base
   * model answers): the share routed and their accuracy, at thresholds 0, 0.05, ..., 0.95.
   */
  coverage: CoveragePoint[];
  /** Expected calibration error of the confidence in the top expert (10 equal-width bins). */
  ece: number;
}

/** Parses a JSONL data file of {"prompt", "expert"} lines; a bad line is an error naming the line. */
export function parseLabeledData(text: string, file: string): LabeledPrompt[] {
  const rows: LabeledPrompt[] = [];
  for (const [i, line] of stripBom(text).split(/\r?\n/).entries()) {
    if (line.trim() === "") continue;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new InvalidInputError(
        `${where}: not valid JSON. Each line must be {"prompt": "...", "expert": "..."}.`,
        where,
      );
    }
    const row = value as { prompt?: unknown; expert?: unknown } | null;
    if (typeof row?.prompt !== "string" || row.prompt.trim() === "") {
      throw new InvalidInputError(`${where}: "prompt" must be a non-empty string.`, where);
    }
    if (typeof row.expert !== "string" || row.expert === "") {
      throw new InvalidInputError(`${where}: "expert" must name an expert.`, where);
    }
    rows.push({ prompt: row.prompt, expert: row.expert });
  }
  if (rows.length === 0) throw new InvalidInputError(`${file} has no data lines.`, file);
  return rows;
}

/** Reads a JSONL data file of labeled prompts. */
export async function readLabeledData(file: string): Promise<LabeledPrompt[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new InvalidInputError(`Cannot read the data file ${file}. Check the path given to --data.`, "data");
  }
  return parseLabeledData(text, file);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Routes every labeled prompt and scores the router: accuracy, per-expert precision/recall/F1,
 * the confusion matrix and routing latency.
 */
export async function evaluateRouter(
  router: RouterService & { experts: { experts: { name: string }[] }; embedderId?: string },
  data: readonly LabeledPrompt[],
  options: RouteOptions & { onProgress?: (done: number, total: number) => void } = {},
): Promise<EvaluationReport> {
  const known = router.experts.experts.map((e) => e.name);
  for (const [i, row] of data.entries()) {
    if (!known.includes(row.expert)) {
      throw new InvalidInputError(
        `Data row ${i + 1} is labeled "${row.expert}", which is not an expert. Known experts: ${known.join(", ")}.`,
        `data[${i}]`,
      );
    }
  }
  const labels = [...known];
  const confusion: Record<string, Record<string, number>> = {};
  for (const a of labels) confusion[a] = Object.fromEntries([...labels, "(base)"].map((b) => [b, 0]));
  const latencies: number[] = [];
  const predictions: EvaluationReport["predictions"] = [];
  const scored: { confidence: number; correct: boolean }[] = [];
  let correct = 0;
  let strategy = options.strategy ?? "centroid";
  let embedder = router.embedderId ?? "";
  const { onProgress, ...routeOptions } = options;
  for (const [i, row] of data.entries()) {
    const decision = await router.route(row.prompt, { ...routeOptions, topExperts: 1 });
    strategy = decision.strategy;
    embedder = decision.embedder;
    latencies.push(decision.timings.totalMs);
    const routed = decision.selected[0]?.name ?? "(base)";
    confusion[row.expert]![routed] = (confusion[row.expert]![routed] ?? 0) + 1;
    if (routed === row.expert) correct++;
    // The top expert whatever the threshold, so the curve covers every threshold.
    const confidence = decision.confidence ?? decision.selected[0]?.weight ?? 0;
    predictions.push({ prompt: row.prompt, expert: row.expert, routed, confidence });
    scored.push({ confidence, correct: (decision.ranked[0]?.name ?? routed) === row.expert });
    onProgress?.(i + 1, data.length);
  }
  const perExpert: Record<string, ExpertScore> = {};
  for (const name of labels) {
    const tp = confusion[name]![name]!;
    const support = Object.values(confusion[name]!).reduce((a, b) => a + b, 0);
    const predicted = labels.reduce((n, l) => n + confusion[l]![name]!, 0);
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perExpert[name] = { precision, recall, f1, support };
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    accuracy: correct / data.length,
    n: data.length,
    perExpert,
    confusion,
    labels,
    latencyMs: {
      mean: latencies.reduce((a, b) => a + b, 0) / latencies.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
    },
    embedder,
    strategy,
    predictions,
    coverage: coverageCurve(scored),
    ece: expectedCalibrationError(scored),
  };
}

/** Renders a report as the text `herd eval` prints. */
export function formatReport(report: EvaluationReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `accuracy ${pct(report.accuracy)} on ${report.n} prompts (embedder ${report.embedder}, strategy ${report.strategy})`,
    `routing latency mean ${report.latencyMs.mean.toFixed(2)} ms, p50 ${report.latencyMs.p50.toFixed(2)} ms, p99 ${report.latencyMs.p99.toFixed(2)} ms`,
    `expected calibration error ${report.ece.toFixed(3)} (confidence in the top expert, 10 bins)`,
    "",
    `${"expert".padEnd(12)}${"precision".padStart(10)}${"recall".padStart(10)}${"f1".padStart(10)}${"n".padStart(6)}`,
  ];
  for (const name of report.labels) {
    const s = report.perExpert[name]!;
    lines.push(
      `${name.padEnd(12)}${pct(s.precision).padStart(10)}${pct(s.recall).padStart(10)}${pct(s.f1).padStart(10)}${String(s.support).padStart(6)}`,
    );
  }
  const cols = [...report.labels, "(base)"].filter(
    (c) => c !== "(base)" || report.labels.some((l) => report.confusion[l]![c]! > 0),
  );
  const width = Math.max(8, ...cols.map((c) => c.length + 1));
  lines.push("", "confusion (rows: labeled, columns: routed)");
  lines.push(" ".repeat(12) + cols.map((c) => c.padStart(width)).join(""));
  for (const name of report.labels) {
    lines.push(
      name.padEnd(12) + cols.map((c) => String(report.confusion[name]![c] ?? 0).padStart(width)).join(""),
    );
  }
  lines.push("", "routing only at or above a confidence threshold (below it the base model answers)");
  lines.push(`${"threshold".padEnd(12)}${"coverage".padStart(10)}${"accuracy".padStart(10)}`);
  for (const point of report.coverage) {
    if (Math.round(point.threshold * 100) % 10 !== 0 && point.threshold !== 0.95) continue;
    lines.push(
      `${point.threshold.toFixed(2).padEnd(12)}${pct(point.coverage).padStart(10)}${pct(point.accuracy).padStart(10)}`,
    );
  }
  return lines.join("\n");
}
