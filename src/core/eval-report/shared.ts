import type { EvaluationReport } from "../evaluation.js";

/** The column of prompts the router sent to the base model. */
export const BASE_COLUMN = "(base)";

/** The most misrouted prompts a report lists (the rest are counted). */
export const MAX_MISROUTED = 200;

/** The routed columns of the confusion matrix: every expert, plus `(base)` when anything went there. */
export function confusionColumns(report: EvaluationReport): string[] {
  const base = report.labels.some((l) => (report.confusion[l]?.[BASE_COLUMN] ?? 0) > 0);
  return base ? [...report.labels, BASE_COLUMN] : [...report.labels];
}

/** Prompts routed somewhere other than their label, least confident first. */
export function misrouted(report: EvaluationReport): EvaluationReport["predictions"] {
  return report.predictions.filter((p) => p.routed !== p.expert).sort((a, b) => a.confidence - b.confidence);
}

/** `0.873` as `87.3%`. */
export const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
