import { DimensionMismatchError } from "./errors.js";

/** Dot product of two vectors of the same length. */
export function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) {
    throw new DimensionMismatchError(`Cannot compare vectors of dimension ${a.length} and ${b.length}.`);
  }
  // Four running sums break the add-latency chain: about twice as fast as one on long vectors.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n = a.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (; i < n; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + s2 + s3;
}

/** Euclidean norm. */
export function norm(v: Float32Array): number {
  return Math.sqrt(dot(v, v));
}

/** Returns a unit-length copy of `v` (a zero vector stays zero). */
export function l2Normalize(v: Float32Array | Float64Array | readonly number[]): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const n = Math.sqrt(sum);
  const out = new Float32Array(v.length);
  if (n === 0) return out;
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / n;
  return out;
}

/** Element-wise mean of equal-length vectors, accumulated in float64. */
export function mean(vectors: readonly Float32Array[]): Float32Array {
  const first = vectors[0];
  if (!first) throw new RangeError("mean() needs at least one vector.");
  const acc = new Float64Array(first.length);
  for (const v of vectors) {
    if (v.length !== acc.length) {
      throw new DimensionMismatchError(`Cannot average vectors of dimension ${acc.length} and ${v.length}.`);
    }
    for (let i = 0; i < v.length; i++) acc[i]! += v[i]!;
  }
  const out = new Float32Array(acc.length);
  for (let i = 0; i < acc.length; i++) out[i] = acc[i]! / vectors.length;
  return out;
}

/** The centroid of some embeddings: their mean, L2-normalized. */
export function centroid(vectors: readonly Float32Array[]): Float32Array {
  return l2Normalize(mean(vectors));
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  const d = dot(a, b);
  const n = norm(a) * norm(b);
  return n === 0 ? 0 : d / n;
}

/** Cosine distance, 1 - cosine similarity, in [0, 2]. */
export function cosineDistance(a: Float32Array, b: Float32Array): number {
  return 1 - cosineSimilarity(a, b);
}

/** Numerically stable softmax. */
export function softmax(logits: readonly number[]): number[] {
  if (logits.length === 0) return [];
  const max = Math.max(...logits);
  if (max === Number.POSITIVE_INFINITY) {
    const inf = logits.filter((x) => x === max).length;
    return logits.map((x) => (x === max ? 1 / inf : 0));
  }
  const exps = logits.map((x) => Math.exp(x - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/** A seeded PRNG (mulberry32): the same seed gives the same sequence on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples `n` items without replacement, seeded (a partial Fisher-Yates shuffle). All items when n >= length. */
export function sampleWithoutReplacement<T>(items: readonly T[], n: number, seed: number): T[] {
  const pool = [...items];
  const count = Math.min(n, pool.length);
  const random = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}
