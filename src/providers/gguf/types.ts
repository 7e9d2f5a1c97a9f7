/**
 * The GGUF vocabulary: metadata value types, ggml tensor types and the parsed header.
 * Spec: ggml docs/gguf.md (version 3, little-endian).
 */

/** The magic at the start of every GGUF file: the bytes "GGUF". */
export const GGUF_MAGIC = 0x46554747;

/** The GGUF version this module writes. It reads versions 2 and 3 (same layout). */
export const GGUF_VERSION = 3;

/** The tensor data alignment when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** The on-disk codes of metadata value types. */
export const GGUF_VALUE_TYPE_CODES = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

/** A metadata value type name (`u32`, `string`, `array`, ...). */
export type GgufValueTypeName = keyof typeof GGUF_VALUE_TYPE_CODES;

/** Metadata types whose values are JS numbers. */
export type GgufNumberTypeName = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64";

/** Metadata types whose values are bigints (64-bit integers). */
export type GgufBigIntTypeName = "u64" | "i64";

/** A metadata value that is not an array. */
export type GgufScalarValue =
  | { type: GgufNumberTypeName; value: number }
  | { type: GgufBigIntTypeName; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string };

/**
 * A metadata array. Items share one type; arrays of arrays are allowed by the spec and hold
 * `GgufArrayValue` items.
 */
export type GgufArrayValue = (
  | { type: "array"; itemType: GgufNumberTypeName; value: number[] }
  | { type: "array"; itemType: GgufBigIntTypeName; value: bigint[] }
  | { type: "array"; itemType: "bool"; value: boolean[] }
  | { type: "array"; itemType: "string"; value: string[] }
  | { type: "array"; itemType: "array"; value: GgufArrayValue[] }
) & {
  /**
   * Set when the reader skipped an array too large to be worth materialising (see
   * `GGUF_HEADER_LIMITS`): its length in the file; `value` is then empty.
   */
  skipped?: number;
};

/** One typed metadata value. The type is kept so a file can be rewritten byte-compatible. */
export type GgufValue = GgufScalarValue | GgufArrayValue;

/** Metadata in file order: key to typed value. */
export type GgufMetadata = Map<string, GgufValue>;

/** ggml tensor types by on-disk code. Only F32, F16 and BF16 can be decoded to floats here. */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
} as const;

/** A ggml tensor type code (see {@link GgmlType}). Unknown codes are kept as plain numbers. */
export type GgmlTypeCode = number;

/** [elements per block, bytes per block] of each known ggml type. */
const BLOCK_LAYOUT: Readonly<Record<number, readonly [number, number]>> = {
  0: [1, 4],
  1: [1, 2],
  2: [32, 18],
  3: [32, 20],
  6: [32, 22],
  7: [32, 24],
  8: [32, 34],
  9: [32, 36],
  10: [256, 84],
  11: [256, 110],
  12: [256, 144],
  13: [256, 176],
  14: [256, 210],
  15: [256, 292],
  16: [256, 66],
  17: [256, 74],
  18: [256, 98],
  19: [256, 50],
  20: [32, 18],
  21: [256, 110],
  22: [256, 82],
  23: [256, 136],
  24: [1, 1],
  25: [1, 2],
  26: [1, 4],
  27: [1, 8],
  28: [1, 8],
  29: [256, 56],
  30: [1, 2],
  34: [256, 54],
  35: [256, 66],
  39: [32, 17],
};

/** The name of a ggml type code, e.g. `F16`, or `type 99` for an unknown code. */
export function ggmlTypeName(type: GgmlTypeCode): string {
  for (const [name, code] of Object.entries(GgmlType)) if (code === type) return name;
  return `type ${type}`;
}

/**
 * The byte size of a tensor of `elements` elements of `type`, or undefined for an unknown type.
 * Quantized types store whole blocks; `elements` must be a multiple of the block size.
 */
export function ggmlByteSize(type: GgmlTypeCode, elements: number): number | undefined {
  const layout = BLOCK_LAYOUT[type];
  if (!layout) return undefined;
  return Math.ceil(elements / layout[0]) * layout[1];
}

/** One tensor as described in the header. */
export interface GgufTensorInfo {
  name: string;
  /** Dimensions in ggml order: `dims[0]` (ne0) varies fastest, i.e. PyTorch `[out, in]` is `[in, out]` here. */
  dims: number[];
  type: GgmlTypeCode;
  /** Offset of the data from the start of the tensor data section (a multiple of the alignment). */
  offset: number;
  /** Number of elements (the product of `dims`). */
  elements: number;
  /** Bytes of data, or undefined when the type is unknown to this module. */
  byteLength: number | undefined;
}

/** A parsed GGUF header: everything but the tensor data, which is read on demand by offset. */
export interface GgufHeader {
  /** The file the header was read from (absolute or as given). */
  path: string;
  version: number;
  metadata: GgufMetadata;
  tensors: GgufTensorInfo[];
  /** `general.alignment`, or 32. */
  alignment: number;
  /** Absolute file offset of the tensor data section. */
  dataOffset: number;
  /** File size in bytes when the header was read. */
  fileSize: number;
}
