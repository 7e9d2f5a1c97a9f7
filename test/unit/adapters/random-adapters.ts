import { writeGgufLora, writePeftAdapter } from "../../../src/providers/adapters/adapter-writer.js";
import type { FloatDType } from "../../../src/providers/adapters/dtype.js";
import type { AdapterFormat, LoraAdapter } from "../../../src/providers/adapters/lora-adapter.js";

/** A module to generate: its name in the format's naming and its shape. */
export interface ModuleShape {
  name: string;
  rank: number;
  inFeatures: number;
  outFeatures: number;
}

/** A small deterministic generator (mulberry32), so failures reproduce. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

function randomArray(length: number, next: () => number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = next();
  return out;
}

/** Writes an adapter with random A and B; returns the values written, by module name. */
export async function writeRandomAdapter(
  path: string,
  format: AdapterFormat,
  modules: readonly ModuleShape[],
  options: { seed: number; alpha?: number; dtype?: FloatDType; architecture?: string; baseModel?: string },
): Promise<Map<string, { a: Float32Array; b: Float32Array }>> {
  const next = random(options.seed);
  const values = new Map(
    modules.map((m) => [
      m.name,
      { a: randomArray(m.rank * m.inFeatures, next), b: randomArray(m.outFeatures * m.rank, next) },
    ]),
  );
  const output = {
    architecture: options.architecture ?? "llama",
    baseModel: options.baseModel ?? "test/tiny-llama",
    modules: modules.map((m) => ({
      ...m,
      a: async () => values.get(m.name)!.a.slice(),
      b: async () => values.get(m.name)!.b.slice(),
    })),
  };
  if (format === "gguf")
    await writeGgufLora(path, output, { alpha: options.alpha ?? 0, dtype: options.dtype });
  else {
    await writePeftAdapter(path, output, {
      loraAlpha: options.alpha ?? 16,
      dtype: options.dtype,
      padRanks: false,
    });
  }
  return values;
}

/** The dense change scale * B A of one module, [out, in] row-major, in float64. */
export function denseDelta(
  a: Float32Array,
  b: Float32Array,
  rank: number,
  outF: number,
  inF: number,
  scale: number,
) {
  const out = new Float64Array(outF * inF);
  for (let o = 0; o < outF; o++) {
    for (let k = 0; k < rank; k++) {
      const bk = b[o * rank + k]! * scale;
      if (bk === 0) continue;
      for (let i = 0; i < inF; i++) out[o * inF + i]! += bk * a[k * inF + i]!;
    }
  }
  return out;
}

/** The dense change of a module of an opened adapter (at adapter strength 1). */
export async function moduleDelta(adapter: LoraAdapter, name: string): Promise<Float64Array> {
  const m = adapter.module(name)!;
  return denseDelta(
    await adapter.readA(name),
    await adapter.readB(name),
    m.rank,
    m.outFeatures,
    m.inFeatures,
    m.scale,
  );
}

/** ||x - y|| / ||y|| (Frobenius). */
export function relativeError(x: Float64Array, y: Float64Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < y.length; i++) {
    diff += (x[i]! - y[i]!) ** 2;
    norm += y[i]! ** 2;
  }
  return Math.sqrt(diff / norm);
}
