import { DimensionMismatchError } from "../errors.js";
import { softmaxWithTemperature } from "./calibration.js";
import { IntTable } from "./int-table.js";

/**
 * A text's sparse features: feature keys (stable signed 32-bit ids, e.g. hashes of n-grams, never folded
 * into a fixed width) and their values. What the `linear` strategy scores without a dense vector.
 */
export interface SparseFeatures {
  readonly keys: ArrayLike<number>;
  readonly values: ArrayLike<number>;
}

/** The data of a trained linear router: enough to score a prompt, and to store it. */
export interface LinearModelData {
  /** The expert names, in the order of the weight columns. */
  classes: string[];
  /**
   * Sparse models: the feature key of each weight row (the model's vocabulary). Absent for a
   * model over dense embeddings, whose rows are the embedding's dimensions.
   */
  keys?: Int32Array;
  /** Weight rows: one per feature key, or the embedding's dimension. */
  rows: number;
  /** `rows x classes`, row-major. */
  weights: Float32Array;
  bias: Float32Array;
  /** Divides the logits before the softmax so that probabilities are calibrated. */
  temperature: number;
}

/**
 * Scores prompts with a trained multinomial logistic regression: `softmax((x W + b) / T)`. Sparse
 * features touch only their own weight rows, so a prompt costs (features x experts) multiply-adds.
 *
 * @example
 * const model = new LinearModel(data);
 * const p = model.probabilities(model.logitsSparse(features)); // one per expert, sums to 1
 */
export class LinearModel {
  private readonly columnOf: IntTable | undefined;

  constructor(readonly data: LinearModelData) {
    const K = data.classes.length;
    if (data.weights.length !== data.rows * K || data.bias.length !== K) {
      throw new DimensionMismatchError(
        `A linear model of ${data.rows} rows and ${K} experts needs ${data.rows * K} weights and ${K} biases, got ${data.weights.length} and ${data.bias.length}.`,
      );
    }
    if (data.keys) {
      if (data.keys.length !== data.rows) {
        throw new DimensionMismatchError(`${data.keys.length} feature keys for ${data.rows} weight rows.`);
      }
      this.columnOf = new IntTable(Array.from(data.keys, (key, j) => [key, j] as const));
    }
  }

  /** The expert names, in score order. */
  get classes(): readonly string[] {
    return this.data.classes;
  }

  /** True when the model scores sparse features (else dense embeddings). */
  get sparse(): boolean {
    return this.columnOf !== undefined;
  }

  /** Raw scores of sparse features; keys the model never saw count for nothing. */
  logitsSparse(features: SparseFeatures): Float64Array {
    const columnOf = this.columnOf;
    if (!columnOf)
      throw new DimensionMismatchError("This linear model scores dense embeddings, not sparse features.");
    const { weights, bias } = this.data;
    const { keys, values } = features;
    const K = bias.length;
    const z = Float64Array.from(bias);
    if (K > 8) {
      for (let e = 0; e < keys.length; e++) {
        const j = columnOf.get(keys[e]!);
        if (j === undefined) continue;
        const v = values[e]!;
        const base = j * K;
        for (let k = 0; k < K; k++) z[k]! += v * weights[base + k]!;
      }
      return z;
    }
    // Up to 8 experts: the scores stay in registers (the branches on K cost nothing), same sums in
    // the same order as the loop above.
    let z0 = z[0]!;
    let z1 = K > 1 ? z[1]! : 0;
    let z2 = K > 2 ? z[2]! : 0;
    let z3 = K > 3 ? z[3]! : 0;
    let z4 = K > 4 ? z[4]! : 0;
    let z5 = K > 5 ? z[5]! : 0;
    let z6 = K > 6 ? z[6]! : 0;
    let z7 = K > 7 ? z[7]! : 0;
    for (let e = 0; e < keys.length; e++) {
      const j = columnOf.get(keys[e]!);
      if (j === undefined) continue;
      const v = values[e]!;
      const b = j * K;
      z0 += v * weights[b]!;
      if (K > 1) z1 += v * weights[b + 1]!;
      if (K > 2) z2 += v * weights[b + 2]!;
      if (K > 3) z3 += v * weights[b + 3]!;
      if (K > 4) z4 += v * weights[b + 4]!;
      if (K > 5) z5 += v * weights[b + 5]!;
      if (K > 6) z6 += v * weights[b + 6]!;
      if (K > 7) z7 += v * weights[b + 7]!;
    }
    z[0] = z0;
    if (K > 1) z[1] = z1;
    if (K > 2) z[2] = z2;
    if (K > 3) z[3] = z3;
    if (K > 4) z[4] = z4;
    if (K > 5) z[5] = z5;
    if (K > 6) z[6] = z6;
    if (K > 7) z[7] = z7;
    return z;
  }

  /** Raw scores of a dense embedding. */
  logitsDense(vector: ArrayLike<number>): Float64Array {
    const { weights, bias, rows } = this.data;
    if (this.columnOf || vector.length !== rows) {
      throw new DimensionMismatchError(
        `This linear model was trained on ${this.columnOf ? "sparse features" : `vectors of dimension ${rows}`}, got a vector of dimension ${vector.length}. Retrain it with \`herd centroids\`.`,
      );
    }
    const K = bias.length;
    const z = Float64Array.from(bias);
    for (let j = 0; j < rows; j++) {
      const v = vector[j]!;
      if (v === 0) continue;
      const base = j * K;
      for (let k = 0; k < K; k++) z[k]! += v * weights[base + k]!;
    }
    return z;
  }

  /** Calibrated probabilities from logits (the model's temperature unless another is given). */
  probabilities(logits: ArrayLike<number>, temperature = this.data.temperature): Float64Array {
    return softmaxWithTemperature(logits, temperature);
  }
}
