import { describe, expect, it } from "vitest";
import {
  coverageCurve,
  expectedCalibrationError,
  fitTemperature,
  softmaxWithTemperature,
  thresholdForAccuracy,
} from "../../../src/core/routing/calibration.js";
import { minimizeLbfgs } from "../../../src/core/routing/lbfgs.js";
import {
  crossValidatedLogits,
  featureMatrix,
  matrixLogits,
  trainSoftmaxRegression,
} from "../../../src/core/routing/softmax-regression.js";

/** A seeded generator, so the synthetic data is the same on every run. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("L-BFGS", () => {
  it("finds the minimum of the Rosenbrock function", () => {
    const result = minimizeLbfgs(
      (x, g) => {
        const [a, b] = [x[0]!, x[1]!];
        g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
        g[1] = 200 * (b - a * a);
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      },
      Float64Array.from([-1.2, 1]),
      { maxIterations: 500, gradientTolerance: 1e-8, relativeTolerance: 0 },
    );
    expect(result.converged).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 5);
    expect(result.x[1]).toBeCloseTo(1, 5);
  });
});

describe("softmax regression", () => {
  // Three classes, each marked by its own feature (plus a shared noisy one).
  const rand = random(7);
  const rows = Array.from({ length: 60 }, (_, i) => ({
    indices: [i % 3, 3],
    values: [0.8 + 0.2 * rand(), rand()],
  }));
  const labels = rows.map((_, i) => i % 3);
  const matrix = featureMatrix(rows, 4);

  it("separates separable classes, and a smaller C keeps the weights smaller", () => {
    const strong = trainSoftmaxRegression(matrix, labels, 3, { C: 100 });
    const weak = trainSoftmaxRegression(matrix, labels, 3, { C: 0.01 });
    expect(strong.converged).toBe(true);
    const predicted = matrixLogits(strong, matrix).map((z) => z.indexOf(Math.max(...z)));
    expect(predicted).toEqual(labels);
    const size = (w: Float64Array) => Math.hypot(...w);
    expect(size(weak.weights)).toBeLessThan(size(strong.weights) / 10);
  });

  it("gives out-of-fold logits for every row", () => {
    const logits = crossValidatedLogits(matrix, labels, 3, 5, { C: 10 });
    expect(logits).toHaveLength(60);
    expect(logits.every((z) => z.length === 3)).toBe(true);
    expect(logits.filter((z, i) => z.indexOf(Math.max(...z)) === labels[i]).length).toBe(60);
  });
});

describe("calibration", () => {
  it("fits back the temperature the labels were drawn with", () => {
    const rand = random(3);
    const logits: Float64Array[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 4000; i++) {
      const z = Float64Array.from({ length: 4 }, () => 6 * rand());
      const p = softmaxWithTemperature(z, 2);
      let u = rand();
      let label = 0;
      while (label < 3 && u > p[label]!) u -= p[label++]!;
      logits.push(z);
      labels.push(label);
    }
    expect(fitTemperature(logits, labels)).toBeGreaterThan(1.8);
    expect(fitTemperature(logits, labels)).toBeLessThan(2.2);
  });

  it("ECE is 0 when confidence matches accuracy and large when it does not", () => {
    // 6 of 8 right at confidence 0.75: accuracy equals confidence.
    const calibrated = Array.from({ length: 8 }, (_, i) => ({ confidence: 0.75, correct: i < 6 }));
    expect(expectedCalibrationError(calibrated)).toBeCloseTo(0, 12);
    const overconfident = Array.from({ length: 10 }, (_, i) => ({ confidence: 0.99, correct: i < 5 }));
    expect(expectedCalibrationError(overconfident)).toBeCloseTo(0.49, 12);
  });

  it("the coverage curve and the threshold for a target accuracy", () => {
    const predictions = [
      { confidence: 0.95, correct: true },
      { confidence: 0.9, correct: true },
      { confidence: 0.8, correct: true },
      { confidence: 0.7, correct: false },
      { confidence: 0.6, correct: true },
      { confidence: 0.3, correct: false },
    ];
    const curve = coverageCurve(predictions, [0, 0.75, 0.99]);
    expect(curve[0]).toEqual({ threshold: 0, coverage: 1, accuracy: 4 / 6 });
    expect(curve[1]).toEqual({ threshold: 0.75, coverage: 0.5, accuracy: 1 });
    expect(curve[2]).toEqual({ threshold: 0.99, coverage: 0, accuracy: 1 });
    expect(thresholdForAccuracy(predictions, 1)).toEqual({ threshold: 0.75, coverage: 0.5, accuracy: 1 });
    const eighty = thresholdForAccuracy(predictions, 0.8)!;
    expect(eighty.threshold).toBeCloseTo(0.45, 12);
    expect(eighty).toMatchObject({ coverage: 5 / 6, accuracy: 0.8 });
    expect(thresholdForAccuracy([{ confidence: 0.9, correct: false }], 0.5)).toBeUndefined();
  });
});
