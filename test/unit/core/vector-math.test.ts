import { describe, expect, it } from "vitest";
import { DimensionMismatchError } from "../../../src/core/errors.js";
import {
  centroid,
  cosineDistance,
  l2Normalize,
  mean,
  norm,
  sampleWithoutReplacement,
  softmax,
} from "../../../src/core/vector-math.js";
import { blendWeights } from "../../../src/core/weights.js";

const v = (...xs: number[]) => Float32Array.from(xs);

describe("vector math", () => {
  it("centroid is the L2-normalized mean", () => {
    const c = centroid([v(1, 0, 0), v(0, 1, 0)]);
    expect(Array.from(c)).toEqual([expect.closeTo(Math.SQRT1_2, 6), expect.closeTo(Math.SQRT1_2, 6), 0]);
    expect(norm(c)).toBeCloseTo(1, 6);
    expect(Array.from(mean([v(2, 4), v(4, 8)]))).toEqual([3, 6]);
  });

  it("cosine distance is 0 for the same direction, 1 orthogonal, 2 opposite", () => {
    expect(cosineDistance(v(1, 2), v(2, 4))).toBeCloseTo(0, 6);
    expect(cosineDistance(v(1, 0), v(0, 3))).toBeCloseTo(1, 6);
    expect(cosineDistance(v(1, 0), v(-1, 0))).toBeCloseTo(2, 6);
  });

  it("rejects vectors of different dimensions with a typed error", () => {
    expect(() => cosineDistance(v(1, 0), v(1, 0, 0))).toThrow(DimensionMismatchError);
    expect(() => mean([v(1), v(1, 2)])).toThrow(DimensionMismatchError);
  });

  it("normalizes float64 input and keeps zero vectors at zero", () => {
    expect(norm(l2Normalize(Float64Array.from([3, 4])))).toBeCloseTo(1, 6);
    expect(Array.from(l2Normalize([0, 0]))).toEqual([0, 0]);
  });

  it("softmax sums to 1 and is stable for large logits", () => {
    const p = softmax([1000, 1001, 1002]);
    expect(p.reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    expect(p[2]).toBeGreaterThan(p[1]!);
    expect(softmax([Number.POSITIVE_INFINITY, 1])).toEqual([1, 0]);
  });

  it("seeded sampling is reproducible, without replacement, and takes all when n >= length", () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const a = sampleWithoutReplacement(items, 10, 7);
    expect(sampleWithoutReplacement(items, 10, 7)).toEqual(a);
    expect(new Set(a).size).toBe(10);
    expect(sampleWithoutReplacement(items, 10, 8)).not.toEqual(a);
    expect(sampleWithoutReplacement(items, 500, 1).sort((x, y) => x - y)).toEqual(items);
  });
});

describe("blend weights", () => {
  it("inverse-distance is the original Herd's softmax(1/d)", () => {
    const d = [0.2, 0.4];
    const w = blendWeights(d, "inverse-distance");
    const e = [Math.exp(5), Math.exp(2.5)];
    expect(w[0]).toBeCloseTo(e[0]! / (e[0]! + e[1]!), 10);
    expect(w[0]! + w[1]!).toBeCloseTo(1, 12);
  });

  it("inverse-distance survives a zero distance", () => {
    const w = blendWeights([0, 0.5], "inverse-distance");
    expect(w[0]).toBeCloseTo(1, 6);
    expect(Number.isFinite(w[1]!)).toBe(true);
  });

  it("softmax temperature sharpens as it drops", () => {
    const warm = blendWeights([0.3, 0.35], "softmax", 1);
    const cold = blendWeights([0.3, 0.35], "softmax", 0.01);
    expect(warm[0]).toBeLessThan(0.52);
    expect(cold[0]).toBeGreaterThan(0.99);
    expect(() => blendWeights([0.3], "softmax", 0)).toThrow(/positive/);
  });
});
