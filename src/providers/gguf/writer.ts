import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { InvalidInputError } from "../../core/errors.js";
import { removeStaleTemporariesFor, temporarySibling, trackTemporary } from "../../core/temp-files.js";
import { floatToBfloat16, floatToHalf } from "./half.js";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE_CODES,
  GGUF_VERSION,
  GgmlType,
  type GgmlTypeCode,
  type GgufArrayValue,
  type GgufValue,
  type GgufValueTypeName,
  ggmlByteSize,
  ggmlTypeName,
} from "./types.js";

/** Float data, or raw bytes already encoded in the tensor's type (e.g. copied from another file). */
export type GgufTensorData = Float32Array | Uint8Array;

/** One tensor to write. */
export interface GgufWriteTensor {
  name: string;
  /** Dimensions in ggml order (`dims[0]` fastest): a PyTorch `[out, in]` weight is `[in, out]`. */
  dims: readonly number[];
  /** Storage type. Float32Array data is encoded to it; only F32, F16 and BF16 can be encoded. @default GgmlType.F32 */
  type?: GgmlTypeCode;
  /**
   * The values in ggml order, or a function producing them when the tensor is written, so a large
   * file can be written with one tensor in memory at a time ({@link writeGguf} only).
   */
  data: GgufTensorData | (() => GgufTensorData | Promise<GgufTensorData>);
}

/** What a GGUF file holds. Alignment is `general.alignment` when present (u32), else 32. */
export interface GgufWriteInput {
  /** Metadata in the order it is written. */
  metadata: Iterable<readonly [string, GgufValue]> | Readonly<Record<string, GgufValue>>;
  tensors: readonly GgufWriteTensor[];
}

const encoder = new TextEncoder();

/** Collects little-endian bytes. */
class ByteWriter {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.byteLength;
  }
  private fixed(size: number, set: (v: DataView) => void): void {
    const b = new Uint8Array(size);
    set(new DataView(b.buffer));
    this.push(b);
  }
  u8 = (v: number) => this.fixed(1, (d) => d.setUint8(0, v));
  i8 = (v: number) => this.fixed(1, (d) => d.setInt8(0, v));
  u16 = (v: number) => this.fixed(2, (d) => d.setUint16(0, v, true));
  i16 = (v: number) => this.fixed(2, (d) => d.setInt16(0, v, true));
  u32 = (v: number) => this.fixed(4, (d) => d.setUint32(0, v, true));
  i32 = (v: number) => this.fixed(4, (d) => d.setInt32(0, v, true));
  f32 = (v: number) => this.fixed(4, (d) => d.setFloat32(0, v, true));
  f64 = (v: number) => this.fixed(8, (d) => d.setFloat64(0, v, true));
  u64 = (v: bigint | number) => this.fixed(8, (d) => d.setBigUint64(0, BigInt(v), true));
  i64 = (v: bigint) => this.fixed(8, (d) => d.setBigInt64(0, v, true));
  string(s: string): void {
    const bytes = encoder.encode(s);
    this.u64(bytes.byteLength);
    this.push(bytes);
  }
  toBytes(): Uint8Array {
    return Buffer.concat(this.chunks, this.length);
  }
}

function bad(message: string, param?: string): InvalidInputError {
  return new InvalidInputError(`Cannot write GGUF: ${message}`, param);
}

function writeScalar(
  w: ByteWriter,
  type: Exclude<GgufValueTypeName, "array">,
  value: unknown,
  key: string,
): void {
  const ok =
    type === "string"
      ? typeof value === "string"
      : type === "bool"
        ? typeof value === "boolean"
        : type === "u64" || type === "i64"
          ? typeof value === "bigint"
          : typeof value === "number";
  if (!ok) throw bad(`metadata "${key}" is declared ${type} but holds ${typeof value}.`, key);
  if (type === "string") w.string(value as string);
  else if (type === "bool") w.u8(value ? 1 : 0);
  else (w[type] as (v: unknown) => void)(value);
}

function writeArray(w: ByteWriter, array: GgufArrayValue, key: string): void {
  if (array.skipped !== undefined) {
    throw new InvalidInputError(
      `GGUF metadata "${key}" was skipped when its file was read (${array.skipped} items), so it cannot be written back.`,
    );
  }
  w.u32(GGUF_VALUE_TYPE_CODES[array.itemType]);
  w.u64(array.value.length);
  for (const item of array.value) {
    if (array.itemType === "array") writeArray(w, item as GgufArrayValue, key);
    else writeScalar(w, array.itemType, item, key);
  }
}

function metadataEntries(input: GgufWriteInput): [string, GgufValue][] {
  const m = input.metadata;
  const entries = Symbol.iterator in m ? [...(m as Iterable<[string, GgufValue]>)] : Object.entries(m);
  const seen = new Set<string>();
  for (const [key] of entries) {
    if (seen.has(key)) throw bad(`metadata key "${key}" appears twice.`, key);
    seen.add(key);
  }
  return entries;
}

function alignmentOf(entries: [string, GgufValue][]): number {
  const v = entries.find(([k]) => k === "general.alignment")?.[1];
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (v.type !== "u32" || v.value === 0 || v.value % 8 !== 0) {
    throw bad("general.alignment must be a u32 multiple of 8.", "general.alignment");
  }
  return v.value;
}

interface Planned {
  tensor: GgufWriteTensor;
  type: GgmlTypeCode;
  elements: number;
  byteLength: number;
  offset: number;
}

/** Encodes the header and plans where each tensor goes. */
function encodeHeader(input: GgufWriteInput): { header: Uint8Array; planned: Planned[]; alignment: number } {
  const entries = metadataEntries(input);
  const alignment = alignmentOf(entries);
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(input.tensors.length);
  w.u64(entries.length);
  for (const [key, value] of entries) {
    w.string(key);
    w.u32(GGUF_VALUE_TYPE_CODES[value.type]);
    if (value.type === "array") writeArray(w, value, key);
    else writeScalar(w, value.type, value.value, key);
  }
  const planned: Planned[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const tensor of input.tensors) {
    if (names.has(tensor.name)) throw bad(`tensor "${tensor.name}" appears twice.`, tensor.name);
    names.add(tensor.name);
    if (
      tensor.dims.length < 1 ||
      tensor.dims.length > 4 ||
      tensor.dims.some((d) => !Number.isInteger(d) || d < 1)
    ) {
      throw bad(`tensor "${tensor.name}" has dims [${tensor.dims}]; use 1-4 positive integers.`, tensor.name);
    }
    const type = tensor.type ?? GgmlType.F32;
    const elements = tensor.dims.reduce((a, b) => a * b, 1);
    const byteLength = ggmlByteSize(type, elements);
    if (byteLength === undefined)
      throw bad(`tensor "${tensor.name}" has unknown ggml type ${type}.`, tensor.name);
    w.string(tensor.name);
    w.u32(tensor.dims.length);
    for (const d of tensor.dims) w.u64(d);
    w.u32(type);
    w.u64(offset);
    planned.push({ tensor, type, elements, byteLength, offset });
    offset += Math.ceil(byteLength / alignment) * alignment;
  }
  const header = w.toBytes();
  const padded = new Uint8Array(Math.ceil(header.byteLength / alignment) * alignment);
  padded.set(header);
  return { header: padded, planned, alignment };
}

/** Encodes one tensor's data in its storage type, checking the length. */
function encodeTensor(p: Planned, data: GgufTensorData): Uint8Array {
  const { name } = p.tensor;
  if (data instanceof Uint8Array) {
    if (data.byteLength !== p.byteLength) {
      throw bad(
        `tensor "${name}" has ${data.byteLength} raw bytes; ${ggmlTypeName(p.type)} [${p.tensor.dims}] needs ${p.byteLength}.`,
        name,
      );
    }
    return data;
  }
  if (data.length !== p.elements) {
    throw bad(
      `tensor "${name}" has ${data.length} values; dims [${p.tensor.dims}] need ${p.elements}.`,
      name,
    );
  }
  if (p.type === GgmlType.F32) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint16Array(data.length);
  if (p.type === GgmlType.F16) for (let i = 0; i < data.length; i++) out[i] = floatToHalf(data[i]!);
  else if (p.type === GgmlType.BF16) for (let i = 0; i < data.length; i++) out[i] = floatToBfloat16(data[i]!);
  else
    throw bad(
      `tensor "${name}": float data can only be encoded as F32, F16 or BF16, not ${ggmlTypeName(p.type)}.`,
      name,
    );
  return new Uint8Array(out.buffer);
}

/**
 * Encodes a whole GGUF v3 file in memory (e.g. to hash it before writing). Tensor data must be
 * given eagerly (no functions).
 * @throws InvalidInputError on inconsistent input (wrong data length, duplicate names, bad types)
 */
export function encodeGguf(input: GgufWriteInput): Uint8Array {
  const { header, planned, alignment } = encodeHeader(input);
  const total =
    header.byteLength + planned.reduce((n, p) => n + Math.ceil(p.byteLength / alignment) * alignment, 0);
  const out = new Uint8Array(total);
  out.set(header);
  for (const p of planned) {
    if (typeof p.tensor.data === "function")
      throw bad(`tensor "${p.tensor.name}" data is lazy; use writeGguf.`);
    out.set(encodeTensor(p, p.tensor.data), header.byteLength + p.offset);
  }
  return out;
}

/**
 * Writes bytes to a temp file next to `path`, then renames it over `path`, so readers never see a
 * half-written file. `source` is the bytes, or a function that writes chunks in order.
 */
export async function writeFileAtomic(
  path: string,
  source: Uint8Array | ((write: (chunk: Uint8Array) => Promise<void>) => Promise<void> | void),
): Promise<void> {
  await removeStaleTemporariesFor(path);
  const temp = temporarySibling(path);
  const untrack = trackTemporary(temp);
  let handle: FileHandle;
  try {
    handle = await open(temp, "wx");
  } catch (error) {
    untrack();
    throw error;
  }
  try {
    if (source instanceof Uint8Array) await handle.writeFile(source);
    else {
      await source(async (chunk) => {
        let done = 0;
        while (done < chunk.byteLength) done += (await handle.write(chunk, done)).bytesWritten;
      });
    }
    await handle.close();
    await rename(temp, path);
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  } finally {
    untrack();
  }
}

/**
 * Writes a GGUF v3 file atomically (temp file + rename). Lazy tensor data is produced and written
 * one tensor at a time.
 * @example
 * await writeGguf("lora.gguf", {
 *   metadata: new Map([["general.type", gguf.string("adapter")], ["adapter.type", gguf.string("lora")]]),
 *   tensors: [{ name: "blk.0.attn_q.weight.lora_a", dims: [64, 8], data: a }],
 * });
 */
export async function writeGguf(path: string, input: GgufWriteInput): Promise<void> {
  const { header, planned, alignment } = encodeHeader(input);
  await writeFileAtomic(path, async (write) => {
    await write(header);
    for (const p of planned) {
      const data = typeof p.tensor.data === "function" ? await p.tensor.data() : p.tensor.data;
      const bytes = encodeTensor(p, data);
      await write(bytes);
      const padding = Math.ceil(p.byteLength / alignment) * alignment - p.byteLength;
      if (padding > 0) await write(new Uint8Array(padding));
    }
  });
}
