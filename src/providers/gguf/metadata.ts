import { FileFormatError } from "../../core/errors.js";
import type {
  GgufArrayValue,
  GgufBigIntTypeName,
  GgufHeader,
  GgufNumberTypeName,
  GgufValue,
} from "./types.js";

/**
 * Constructors for typed metadata values, so written files use the types llama.cpp expects
 * (integers it reads as u32 must be written as u32).
 * @example
 * new Map([["general.architecture", gguf.string("llama")], ["llama.block_count", gguf.u32(2)]])
 */
export const gguf = {
  u8: (value: number): GgufValue => ({ type: "u8", value }),
  i8: (value: number): GgufValue => ({ type: "i8", value }),
  u16: (value: number): GgufValue => ({ type: "u16", value }),
  i16: (value: number): GgufValue => ({ type: "i16", value }),
  u32: (value: number): GgufValue => ({ type: "u32", value }),
  i32: (value: number): GgufValue => ({ type: "i32", value }),
  f32: (value: number): GgufValue => ({ type: "f32", value }),
  f64: (value: number): GgufValue => ({ type: "f64", value }),
  u64: (value: bigint): GgufValue => ({ type: "u64", value }),
  i64: (value: bigint): GgufValue => ({ type: "i64", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  string: (value: string): GgufValue => ({ type: "string", value }),
  /** An array of numbers stored as `itemType`. */
  numbers: (itemType: GgufNumberTypeName, value: number[]): GgufArrayValue => ({
    type: "array",
    itemType,
    value,
  }),
  bigints: (itemType: GgufBigIntTypeName, value: bigint[]): GgufArrayValue => ({
    type: "array",
    itemType,
    value,
  }),
  strings: (value: string[]): GgufArrayValue => ({ type: "array", itemType: "string", value }),
  bools: (value: boolean[]): GgufArrayValue => ({ type: "array", itemType: "bool", value }),
} as const;

/** A string metadata value, or undefined when the key is absent. @throws FileFormatError on another type */
export function ggufString(header: GgufHeader, key: string): string | undefined {
  const v = header.metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type !== "string") throw wrongType(header, key, "a string", v);
  return v.value;
}

/**
 * A numeric metadata value of any integer or float type (64-bit integers converted to number),
 * or undefined when absent. @throws FileFormatError on a non-numeric type
 */
export function ggufNumber(header: GgufHeader, key: string): number | undefined {
  const v = header.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v.value === "number") return v.value;
  if (typeof v.value === "bigint") return Number(v.value);
  throw wrongType(header, key, "a number", v);
}

/** A string-array metadata value, or undefined when absent. @throws FileFormatError on another type */
export function ggufStringArray(header: GgufHeader, key: string): string[] | undefined {
  const v = header.metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type !== "array" || v.itemType !== "string") throw wrongType(header, key, "an array of strings", v);
  if (v.skipped !== undefined) {
    throw new FileFormatError(
      `GGUF file "${header.path}": metadata "${key}" holds ${v.skipped} strings, more than Herd reads from a header.`,
      header.path,
    );
  }
  return v.value;
}

function wrongType(header: GgufHeader, key: string, expected: string, v: GgufValue): FileFormatError {
  const actual = v.type === "array" ? `an array of ${v.itemType}` : v.type;
  return new FileFormatError(
    `GGUF file "${header.path}": metadata "${key}" should be ${expected} but is ${actual}.`,
    header.path,
  );
}
