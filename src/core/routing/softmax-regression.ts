import { minimizeLbfgs } from "./lbfgs.js";
import { accumulateRow, scatterRow } from "./sparse-kernels.js";

/**
 * Training rows as a compressed sparse row matrix: row i's entries are
 * `indices[indptr[i] .. indptr[i+1])` (column numbers) with `values` at the same positions.
 */
export interface FeatureMatrix {
  rows: number;
  columns: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/** Settings of `trainSoftmaxRegression`. */
export interface SoftmaxRegressionOptions {
  /** Inverse L2 strength, as scikit-learn's `C`: larger fits the examples more closely. @default 10 */
  C?: number;
  /** Most L-BFGS iterations. @default 300 */
  maxIterations?: number;
  /**
   * Starts from these weights instead of zero. The objective is strictly convex, so the optimum
   * is the same; a start near it (e.g. the full model for a cross-validation fold) needs fewer steps.
   */
  initial?: Pick<SoftmaxWeights, "weights" | "bias">;
  /**
   * `"balanced"` weighs each row by `n / (classes * n_c)` (scikit-learn's `class_weight="balanced"`),
   * so every class counts as much in the loss whatever its number of rows: an expert with 8 examples
   * next to experts with 250 is still learned. `"none"` weighs every row 1. @default "balanced"
   */
  classWeight?: ClassWeight;
}

/** How training rows are weighted in the loss: by inverse class frequency, or all alike. */
export type ClassWeight = "balanced" | "none";

/**
 * The weight of each class: `n / (classes * n_c)` when balanced (classes without rows get 0), else 1.
 * The row weights then sum to n, so the L2 penalty keeps its strength.
 */
export function classWeights(labels: ArrayLike<number>, classes: number, mode: ClassWeight): Float64Array {
  const weights = new Float64Array(classes).fill(1);
  if (mode === "none") return weights;
  const counts = new Float64Array(classes);
  for (let r = 0; r < labels.length; r++) counts[labels[r]!]!++;
  const present = counts.filter((c) => c > 0).length;
  for (let k = 0; k < classes; k++) {
    weights[k] = counts[k]! > 0 ? labels.length / (present * counts[k]!) : 0;
  }
  return weights;
}

/** Weights of a multinomial logistic regression: `logits = x W + bias`. */
export interface SoftmaxWeights {
  /** `columns x classes`, row-major: the weights of column j are `[j*classes, (j+1)*classes)`. */
  weights: Float64Array;
  bias: Float64Array;
  classes: number;
  columns: number;
  iterations: number;
  converged: boolean;
}

/** Builds a FeatureMatrix from rows of (column, value) pairs. */
export function featureMatrix(
  rows: readonly { indices: ArrayLike<number>; values: ArrayLike<number> }[],
  columns: number,
): FeatureMatrix {
  const nnz = rows.reduce((n, r) => n + r.indices.length, 0);
  const indptr = new Int32Array(rows.length + 1);
  const indices = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  let at = 0;
  for (const [i, row] of rows.entries()) {
    for (let k = 0; k < row.indices.length; k++) {
      indices[at] = row.indices[k]!;
      values[at] = row.values[k]!;
      at++;
    }
    indptr[i + 1] = at;
  }
  return { rows: rows.length, columns, indptr, indices, values };
}

/** The rows of `matrix` at `which`, in that order. */
export function selectRows(matrix: FeatureMatrix, which: readonly number[]): FeatureMatrix {
  const rows = which.map((r) => {
    const from = matrix.indptr[r]!;
    const to = matrix.indptr[r + 1]!;
    return { indices: matrix.indices.subarray(from, to), values: matrix.values.subarray(from, to) };
  });
  return featureMatrix(rows, matrix.columns);
}

/**
 * Fits a multinomial logistic regression with an L2 penalty on the weights (not the bias) by
 * L-BFGS: minimizes `(sum of w_r * cross-entropy_r) / n + |W|^2 / (2 C n)`, the objective of
 * scikit-learn's `LogisticRegression(C, class_weight)` divided by n, with the row weights `w_r` of
 * `classWeights` (balanced by default). Deterministic: starts from zero (or `initial`).
 */
export function trainSoftmaxRegression(
  matrix: FeatureMatrix,
  labels: ArrayLike<number>,
  classes: number,
  options: SoftmaxRegressionOptions = {},
): SoftmaxWeights {
  const C = options.C ?? 10;
  if (!(C > 0) || !Number.isFinite(C)) throw new RangeError(`C must be a positive number, got ${C}.`);
  if (labels.length !== matrix.rows) {
    throw new RangeError(`${matrix.rows} rows but ${labels.length} labels.`);
  }
  const K = classes;
  const d = matrix.columns;
  const n = Math.max(1, matrix.rows);
  const { indptr, indices, values } = matrix;
  const penalty = 1 / (C * n);
  const weightOf = classWeights(labels, K, options.classWeight ?? "balanced");
  const logits = new Float64Array(K);
  const objective = (x: Float64Array, gradient: Float64Array): number => {
    gradient.fill(0);
    let loss = 0;
    const biasAt = d * K;
    for (let r = 0; r < matrix.rows; r++) {
      const from = indptr[r]!;
      const to = indptr[r + 1]!;
      accumulateRow(x, K, biasAt, indices, values, from, to, logits);
      let max = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < K; k++) max = Math.max(max, logits[k]!);
      let sum = 0;
      for (let k = 0; k < K; k++) {
        logits[k] = Math.exp(logits[k]! - max);
        sum += logits[k]!;
      }
      const y = labels[r]!;
      const w = weightOf[y]!;
      loss += w * (Math.log(sum) - Math.log(logits[y]!));
      // logits now holds the weighted residual w (p - onehot), divided by n.
      for (let k = 0; k < K; k++) logits[k] = (w * (logits[k]! / sum - (k === y ? 1 : 0))) / n;
      for (let k = 0; k < K; k++) gradient[biasAt + k]! += logits[k]!;
      scatterRow(gradient, K, indices, values, from, to, logits);
    }
    let squares = 0;
    for (let j = 0; j < biasAt; j++) {
      squares += x[j]! * x[j]!;
      gradient[j]! += penalty * x[j]!;
    }
    return loss / n + 0.5 * penalty * squares;
  };
  const x0 = new Float64Array(d * K + K);
  if (options.initial) {
    x0.set(options.initial.weights.subarray(0, d * K));
    x0.set(options.initial.bias, d * K);
  }
  const result = minimizeLbfgs(objective, x0, {
    maxIterations: options.maxIterations ?? 300,
    gradientTolerance: 3e-5,
    relativeTolerance: 1e-9,
  });
  return {
    weights: result.x.slice(0, d * K),
    bias: result.x.slice(d * K),
    classes: K,
    columns: d,
    iterations: result.iterations,
    converged: result.converged,
  };
}

/** The logits of every row of `matrix` under `model`. */
export function matrixLogits(
  model: Pick<SoftmaxWeights, "weights" | "bias" | "classes">,
  matrix: FeatureMatrix,
): Float64Array[] {
  const K = model.classes;
  const out: Float64Array[] = [];
  for (let r = 0; r < matrix.rows; r++) {
    const z = Float64Array.from(model.bias);
    for (let e = matrix.indptr[r]!; e < matrix.indptr[r + 1]!; e++) {
      const v = matrix.values[e]!;
      const base = matrix.indices[e]! * K;
      for (let k = 0; k < K; k++) z[k]! += v * model.weights[base + k]!;
    }
    out.push(z);
  }
  return out;
}

/**
 * Out-of-fold logits: each row scored by a model trained without its fold. Folds are stratified
 * and deterministic (the i-th row of each class goes to fold i mod `folds`).
 */
export function crossValidatedLogits(
  matrix: FeatureMatrix,
  labels: ArrayLike<number>,
  classes: number,
  folds: number,
  options: SoftmaxRegressionOptions = {},
): Float64Array[] {
  const fold = new Int32Array(matrix.rows);
  const seen = new Int32Array(classes);
  for (let r = 0; r < matrix.rows; r++) fold[r] = seen[labels[r]!]!++ % folds;
  const out: Float64Array[] = new Array(matrix.rows);
  for (let f = 0; f < folds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let r = 0; r < matrix.rows; r++) (fold[r] === f ? test : train).push(r);
    if (test.length === 0) continue;
    const model = trainSoftmaxRegression(
      selectRows(matrix, train),
      train.map((r) => labels[r]!),
      classes,
      options,
    );
    const logits = matrixLogits(model, selectRows(matrix, test));
    test.forEach((r, i) => {
      out[r] = logits[i]!;
    });
  }
  return out;
}
