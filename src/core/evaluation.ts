import { readFile } from "node:fs/promises";
import { stripBom } from "./bom.js";
import { InvalidInputError } from "./errors.js";
import type { RouteOptions, RouterService } from "./routing.js";
import { blendWeights } from "./weights.js";

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
  /** Every prompt with its label, where it was routed (`(base)` below the threshold) and the router's confidence. */
  predictions: { prompt: string; expert: string; routed: string; confidence: number }[];
  /**
   * Accuracy against coverage when prompts whose confidence is below `threshold` go to the base model:
   * `coverage` is the share still routed to an expert, `accuracy` the share of those routed right.
   */
  coverage: { threshold: number; coverage: number; accuracy: number }[];
  /** Expected calibration error of the confidence (10 equal-width bins), 0..1: 0 is perfectly calibrated. */
  ece: number;
}

/** Points on the coverage curve. */
const COVERAGE_POINTS = 21;

/**
 * Coverage and accuracy of the routed predictions at evenly spaced confidence thresholds from 0 to
 * the highest confidence seen (top weights rarely come near 1 when many experts share the weight).
 */
export function coverageCurve(
  predictions: readonly { expert: string; routed: string; confidence: number }[],
): EvaluationReport["coverage"] {
  const top = predictions.reduce((max, p) => Math.max(max, p.confidence), 0) || 1;
  return Array.from({ length: COVERAGE_POINTS }, (_, i) => {
    const threshold = Math.round(((top * i) / (COVERAGE_POINTS - 1)) * 1e4) / 1e4;
    const kept = predictions.filter((p) => p.routed !== "(base)" && p.confidence >= threshold);
    const right = kept.filter((p) => p.routed === p.expert).length;
    return {
      threshold,
      coverage: predictions.length === 0 ? 0 : kept.length / predictions.length,
      accuracy: kept.length === 0 ? 0 : right / kept.length,
    };
  });
}

/** Expected calibration error over `bins` equal-width confidence bins. */
export function expectedCalibrationError(
  predictions: readonly { expert: string; routed: string; confidence: number }[],
  bins = 10,
): number {
  if (predictions.length === 0) return 0;
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const inBin = predictions.filter((p) => Math.min(bins - 1, Math.floor(p.confidence * bins)) === b);
    if (inBin.length === 0) continue;
    const confidence = inBin.reduce((sum, p) => sum + p.confidence, 0) / inBin.length;
    const accuracy = inBin.filter((p) => p.routed === p.expert).length / inBin.length;
    ece += (inBin.length / predictions.length) * Math.abs(accuracy - confidence);
  }
  return ece;
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
    // Confidence: the top expert's weight were every expert blended (the decision keeps one).
    const weights = blendWeights(
      decision.ranked.map((e) => e.distance),
      decision.weighting,
      routeOptions.temperature,
    );
    predictions.push({ prompt: row.prompt, expert: row.expert, routed, confidence: weights[0] ?? 0 });
    confusion[row.expert]![routed] = (confusion[row.expert]![routed] ?? 0) + 1;
    if (routed === row.expert) correct++;
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
    coverage: coverageCurve(predictions),
    ece: expectedCalibrationError(predictions),
  };
}

/** Renders a report as the text `herd eval` prints. */
export function formatReport(report: EvaluationReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `accuracy ${pct(report.accuracy)} on ${report.n} prompts (embedder ${report.embedder}, strategy ${report.strategy})`,
    `routing latency mean ${report.latencyMs.mean.toFixed(2)} ms, p50 ${report.latencyMs.p50.toFixed(2)} ms, p99 ${report.latencyMs.p99.toFixed(2)} ms`,
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
  return lines.join("\n");
}
