/**
 * Calibration of routing confidences: temperature scaling, expected calibration error, and the
 * coverage/accuracy trade-off of routing only above a confidence threshold.
 */

/** softmax(logits / temperature), computed stably. */
export function softmaxWithTemperature(logits: ArrayLike<number>, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < logits.length; k++) max = Math.max(max, logits[k]!);
  let sum = 0;
  for (let k = 0; k < logits.length; k++) {
    out[k] = Math.exp((logits[k]! - max) / temperature);
    sum += out[k]!;
  }
  for (let k = 0; k < out.length; k++) out[k]! /= sum;
  return out;
}

/** Mean negative log-likelihood of the labels under softmax(logits / temperature). */
export function negativeLogLikelihood(
  logits: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  temperature: number,
): number {
  let total = 0;
  for (const [i, z] of logits.entries()) {
    const p = softmaxWithTemperature(z, temperature)[labels[i]!]!;
    total -= Math.log(Math.max(p, 1e-300));
  }
  return total / Math.max(1, logits.length);
}

/**
 * The temperature that minimizes the negative log-likelihood of the labels (Guo et al. 2017),
 * found by golden-section search on log T in [0.05, 20]. Deterministic.
 */
export function fitTemperature(logits: readonly ArrayLike<number>[], labels: ArrayLike<number>): number {
  if (logits.length === 0) return 1;
  const f = (logT: number) => negativeLogLikelihood(logits, labels, Math.exp(logT));
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = hi - ratio * (hi - lo);
  let b = lo + ratio * (hi - lo);
  let fa = f(a);
  let fb = f(b);
  for (let i = 0; i < 60 && hi - lo > 1e-4; i++) {
    if (fa <= fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - ratio * (hi - lo);
      fa = f(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + ratio * (hi - lo);
      fb = f(b);
    }
  }
  return Math.exp((lo + hi) / 2);
}

/** One prediction: how confident the router was, and whether it was right. */
export interface ScoredPrediction {
  confidence: number;
  correct: boolean;
}

/**
 * Expected calibration error: predictions are binned by confidence (equal-width bins on [0, 1]);
 * the error is the mean over predictions of |accuracy - mean confidence| of their bin.
 */
export function expectedCalibrationError(predictions: readonly ScoredPrediction[], bins = 10): number {
  if (predictions.length === 0) return 0;
  const count = new Float64Array(bins);
  const confidence = new Float64Array(bins);
  const correct = new Float64Array(bins);
  for (const p of predictions) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p.confidence * bins)));
    count[b]!++;
    confidence[b]! += p.confidence;
    if (p.correct) correct[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b]! > 0) ece += Math.abs(correct[b]! - confidence[b]!);
  }
  return ece / predictions.length;
}

/** Routing only when the confidence is at least `threshold`: the share routed, and their accuracy. */
export interface CoveragePoint {
  threshold: number;
  /** Share of prompts at or above the threshold, 0..1. */
  coverage: number;
  /** Accuracy over those prompts (1 when there are none). */
  accuracy: number;
}

/** The coverage/accuracy curve at the given thresholds (default 0, 0.05, ..., 0.95). */
export function coverageCurve(
  predictions: readonly ScoredPrediction[],
  thresholds: readonly number[] = Array.from({ length: 20 }, (_, i) => i / 20),
): CoveragePoint[] {
  return thresholds.map((threshold) => {
    const covered = predictions.filter((p) => p.confidence >= threshold);
    const right = covered.filter((p) => p.correct).length;
    return {
      threshold,
      coverage: predictions.length === 0 ? 0 : covered.length / predictions.length,
      accuracy: covered.length === 0 ? 1 : right / covered.length,
    };
  });
}

/**
 * The lowest confidence threshold at which the routed prompts reach `targetAccuracy` (so coverage
 * is as large as possible), or undefined when no threshold reaches it. The threshold is set halfway
 * between the last prompt left to the base model and the first routed one.
 */
export function thresholdForAccuracy(
  predictions: readonly ScoredPrediction[],
  targetAccuracy: number,
): CoveragePoint | undefined {
  const sorted = [...predictions].sort((a, b) => b.confidence - a.confidence);
  let right = 0;
  let best: CoveragePoint | undefined;
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i]!.correct) right++;
    const next = sorted[i + 1];
    // Only cut between different confidences: equal ones are routed or not together.
    if (next && next.confidence === sorted[i]!.confidence) continue;
    const accuracy = right / (i + 1);
    if (accuracy >= targetAccuracy) {
      const threshold = next ? (sorted[i]!.confidence + next.confidence) / 2 : 0;
      best = { threshold, coverage: (i + 1) / sorted.length, accuracy };
    }
  }
  return best;
}
