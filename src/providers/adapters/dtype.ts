import { floatBitsToHalf, halfToFloat } from "../gguf/half.js";

/** Float tensor encodings that adapters are stored in (safetensors and GGUF names agree). */
export type FloatDType = "F32" | "F16" | "BF16";

/** The float encodings Herd reads and writes. */
export const FLOAT_DTYPES: readonly FloatDType[] = ["F32", "F16", "BF16"];

/** True when `dtype` is one of {@link FLOAT_DTYPES}. */
export function isFloatDType(dtype: string): dtype is FloatDType {
  return dtype === "F32" || dtype === "F16" || dtype === "BF16";
}

/** Bytes per element of a float encoding. */
export function bytesPerElement(dtype: FloatDType): number {
  return dtype === "F32" ? 4 : 2;
}

/** All 65,536 half-precision values, decoded once: decoding F16 is then one table lookup. */
let halfTable: Float32Array | undefined;

function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = halfToFloat(h);
  halfTable = table;
  return table;
}

/** Views little-endian bytes as elements of `T`, copying only when the bytes are not aligned. */
function aligned(bytes: Uint8Array, size: number): ArrayBuffer {
  if (bytes.byteOffset % size === 0) return bytes.buffer as ArrayBuffer;
  return bytes.slice().buffer as ArrayBuffer;
}

/**
 * Decodes `count` little-endian elements of `dtype` into float32.
 * F32 input is copied so that the caller may modify the result.
 */
export function decodeFloats(bytes: Uint8Array, dtype: FloatDType, count: number): Float32Array {
  const byteLength = count * bytesPerElement(dtype);
  if (bytes.byteLength < byteLength) {
    throw new RangeError(`need ${byteLength} bytes for ${count} ${dtype} values, got ${bytes.byteLength}`);
  }
  if (dtype === "F32") {
    const offset = bytes.byteOffset % 4 === 0 ? bytes.byteOffset : 0;
    return new Float32Array(aligned(bytes, 4), offset, count).slice();
  }
  const offset = bytes.byteOffset % 2 === 0 ? bytes.byteOffset : 0;
  const halves = new Uint16Array(aligned(bytes, 2), offset, count);
  const out = new Float32Array(count);
  if (dtype === "F16") {
    const table = halfToFloatTable();
    for (let i = 0; i < count; i++) out[i] = table[halves[i]!]!;
  } else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = halves[i]! << 16;
  }
  return out;
}

/** Encodes float32 values as little-endian `dtype` bytes (F16 and BF16 round to nearest, ties to even). */
export function encodeFloats(values: Float32Array, dtype: FloatDType): Uint8Array {
  if (dtype === "F32") return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  if (dtype === "F16") {
    for (let i = 0; i < values.length; i++) out[i] = floatBitsToHalf(bits[i]!);
  } else {
    for (let i = 0; i < values.length; i++) {
      const x = bits[i]!;
      if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) out[i] = (x >>> 16) | 0x40;
      else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
  }
  return new Uint8Array(out.buffer);
}
