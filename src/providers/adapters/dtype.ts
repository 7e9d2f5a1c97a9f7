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
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[h] = mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  halfTable = table;
  return table;
}

/** Rounds one float32 bit pattern to the nearest half (ties to even). */
function floatBitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (rest > midpoint || (rest === midpoint && half & 1) ? half + 1 : half);
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half += 1;
  return sign | half;
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
