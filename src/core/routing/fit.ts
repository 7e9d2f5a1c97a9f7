import { InvalidInputError } from "../errors.js";
import type { RouteInput } from "../routing.js";
import {
  type CoveragePoint,
  expectedCalibrationError,
  fitTemperature,
  softmaxWithTemperature,
  thresholdForAccuracy,
} from "./calibration.js";

/** What `fitLinearRouting` needs of a router: the linear model's raw scores. */
export interface LinearScorer {
  linearLogits(
    input: RouteInput,
    options?: { signal?: AbortSignal },
  ): Promise<{ classes: readonly string[]; logits: Float64Array }>;
}

/** Settings of `fitLinearRouting`. */
export interface FitRoutingOptions {
  /** The accuracy the routed prompts must reach; below the threshold the base model answers. @default 0.95 */
  targetAccuracy?: number;
  /** The temperature the data is scored with before fitting (the model's own), for the "before" ECE. */
  currentTemperature?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** What `fitLinearRouting` found. */
export interface FitRoutingResult {
  n: number;
  /** The temperature that makes the probabilities calibrated on the data. */
  temperature: number;
  /** Expected calibration error with the current temperature and with the fitted one. */
  ece: { before: number; after: number };
  /** Top-1 accuracy on the data when every prompt is routed. */
  accuracy: number;
  targetAccuracy: number;
  /**
   * The probability threshold that reaches the target with the largest coverage, with its coverage
   * and accuracy on the data; undefined when no threshold reaches it.
   */
  threshold: CoveragePoint | undefined;
}

/**
 * Fits the `linear` strategy to labeled data (e.g. calibration.jsonl): the softmax temperature
 * that calibrates its probabilities, then the lowest probability threshold at which the routed
 * prompts reach `targetAccuracy`.
 */
export async function fitLinearRouting(
  router: LinearScorer,
  data: readonly { prompt: string; expert: string }[],
  options: FitRoutingOptions = {},
): Promise<FitRoutingResult> {
  const target = options.targetAccuracy ?? 0.95;
  if (!(target > 0 && target <= 1)) {
    throw new InvalidInputError(`The target accuracy must be in (0, 1], got ${target}.`, "targetAccuracy");
  }
  const logits: Float64Array[] = [];
  const labels: number[] = [];
  for (const [i, row] of data.entries()) {
    const scored = await router.linearLogits(row.prompt, { signal: options.signal });
    const label = scored.classes.indexOf(row.expert);
    if (label < 0) {
      throw new InvalidInputError(
        `Data row ${i + 1} is labeled "${row.expert}", which is not an expert. Known experts: ${scored.classes.join(", ")}.`,
        `data[${i}]`,
      );
    }
    logits.push(scored.logits);
    labels.push(label);
    options.onProgress?.(i + 1, data.length);
  }
  const predictionsAt = (temperature: number) =>
    logits.map((z, i) => {
      const p = softmaxWithTemperature(z, temperature);
      let best = 0;
      for (let k = 1; k < p.length; k++) if (p[k]! > p[best]!) best = k;
      return { confidence: p[best]!, correct: best === labels[i] };
    });
  const temperature = fitTemperature(logits, labels);
  const fitted = predictionsAt(temperature);
  return {
    n: data.length,
    temperature,
    ece: {
      before: expectedCalibrationError(predictionsAt(options.currentTemperature ?? 1)),
      after: expectedCalibrationError(fitted),
    },
    accuracy: fitted.filter((p) => p.correct).length / Math.max(1, fitted.length),
    targetAccuracy: target,
    threshold: thresholdForAccuracy(fitted, target),
  };
}
