import { FileFormatError } from "../../core/errors.js";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE_CODES,
  type GgufArrayValue,
  type GgufHeader,
  type GgufMetadata,
  type GgufTensorInfo,
  type GgufValue,
  type GgufValueTypeName,
  ggmlByteSize,
} from "./types.js";

/** Thrown inside the parser when the buffer ends before the header does; the reader then reads more. */
export class NeedMoreBytes extends Error {}

const TYPE_NAMES = Object.fromEntries(
  Object.entries(GGUF_VALUE_TYPE_CODES).map(([name, code]) => [code, name]),
) as Record<number, GgufValueTypeName>;

/** The most dimensions a ggml tensor has. */
const MAX_DIMS = 4;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A little-endian cursor over a prefix of a file that knows the whole file's size. */
class Cursor {
  pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileSize: number,
    private readonly path: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(problem: string): never {
    throw new FileFormatError(
      `GGUF file "${this.path}" is corrupt: ${problem} (at byte ${this.pos}).`,
      this.path,
    );
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.fileSize) {
      throw new FileFormatError(
        `GGUF file "${this.path}" is truncated: the header ends while reading ${what} (byte ${this.pos} of ${this.fileSize}). Re-download or regenerate the file.`,
        this.path,
      );
    }
    if (this.pos + n > this.bytes.byteLength) throw new NeedMoreBytes();
  }

  /** Checks `n` bytes are there, advances past them and returns where they start. */
  private take(n: number, what: string): number {
    this.need(n, what);
    const start = this.pos;
    this.pos += n;
    return start;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  /** A u64 that must fit a JS number (counts, lengths, offsets). */
  count(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} is ${v}, far larger than the file`);
    return Number(v);
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  string(what: string): string {
    const length = this.count(`the length of ${what}`);
    this.need(length, what);
    try {
      return decoder.decode(this.bytes.subarray(this.pos, this.pos + length));
    } catch {
      this.fail(`${what} is not valid UTF-8`);
    } finally {
      this.pos += length;
    }
  }

  scalar(type: GgufValueTypeName, what: string): number | bigint | boolean | string {
    const v = this.view;
    switch (type) {
      case "u8":
        return this.u8(what);
      case "i8":
        return v.getInt8(this.take(1, what));
      case "u16":
        return v.getUint16(this.take(2, what), true);
      case "i16":
        return v.getInt16(this.take(2, what), true);
      case "u32":
        return this.u32(what);
      case "i32":
        return v.getInt32(this.take(4, what), true);
      case "f32":
        return v.getFloat32(this.take(4, what), true);
      case "f64":
        return v.getFloat64(this.take(8, what), true);
      case "u64":
        return this.u64(what);
      case "i64":
        return v.getBigInt64(this.take(8, what), true);
      case "bool": {
        const b = this.u8(what);
        if (b > 1) this.fail(`${what} is a bool with value ${b}`);
        return b === 1;
      }
      case "string":
        return this.string(what);
      case "array":
        throw new Error("arrays are not scalars");
    }
  }

  valueType(what: string): GgufValueTypeName {
    const code = this.u32(`the type of ${what}`);
    const name = TYPE_NAMES[code];
    if (name === undefined) this.fail(`${what} has unknown value type ${code}`);
    return name;
  }

  array(what: string): GgufArrayValue {
    const itemType = this.valueType(`the items of ${what}`);
    const length = this.count(`the length of ${what}`);
    // Every item takes at least one byte: a larger count cannot be real.
    if (length > this.fileSize - this.pos)
      this.fail(`${what} claims ${length} items, more than the file holds`);
    const items: unknown[] = new Array(length);
    for (let i = 0; i < length; i++) {
      items[i] = itemType === "array" ? this.array(`${what}[${i}]`) : this.scalar(itemType, `${what}[${i}]`);
    }
    return { type: "array", itemType, value: items } as GgufArrayValue;
  }

  value(what: string): GgufValue {
    const type = this.valueType(what);
    if (type === "array") return this.array(what);
    return { type, value: this.scalar(type, what) } as GgufValue;
  }
}

/**
 * Parses a GGUF header from the first bytes of a file.
 * @param bytes a prefix of the file (or the whole file)
 * @param fileSize the size of the whole file, to tell "truncated" from "read more"
 * @throws NeedMoreBytes when the prefix is too short (the caller reads more and retries)
 * @throws FileFormatError naming `path` when the file is not a valid GGUF v2/v3 file
 */
export function parseGgufHeader(bytes: Uint8Array, fileSize: number, path: string): GgufHeader {
  const c = new Cursor(bytes, fileSize, path);
  if (fileSize < 4) {
    throw new FileFormatError(`"${path}" is not a GGUF file: it is only ${fileSize} bytes long.`, path);
  }
  const magic = c.u32("the magic");
  if (magic !== GGUF_MAGIC) {
    throw new FileFormatError(
      `"${path}" is not a GGUF file (bad magic ${JSON.stringify(Buffer.from(bytes.subarray(0, 4)).toString("latin1"))}, expected "GGUF"). Point Herd at a .gguf model or adapter.`,
      path,
    );
  }
  const version = c.u32("the version");
  if (version !== 2 && version !== 3) {
    const hint =
      version > 0xffff
        ? " It looks big-endian; only little-endian GGUF is supported."
        : " Convert it with a recent llama.cpp.";
    throw new FileFormatError(
      `GGUF file "${path}" has unsupported version ${version} (supported: 2, 3).${hint}`,
      path,
    );
  }
  const tensorCount = c.count("the tensor count");
  const kvCount = c.count("the metadata count");
  if (tensorCount > fileSize || kvCount > fileSize)
    c.fail("the tensor or metadata count is larger than the file");

  const metadata: GgufMetadata = new Map();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`);
    if (metadata.has(key)) c.fail(`metadata key "${key}" appears twice`);
    metadata.set(key, c.value(`metadata "${key}"`));
  }

  const alignmentValue = metadata.get("general.alignment");
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (alignmentValue !== undefined) {
    if (alignmentValue.type !== "u32" || alignmentValue.value === 0 || alignmentValue.value % 8 !== 0) {
      c.fail("general.alignment must be a u32 multiple of 8");
    }
    alignment = alignmentValue.value as number;
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`the name of tensor #${i}`);
    if (names.has(name)) c.fail(`tensor "${name}" appears twice`);
    names.add(name);
    const nDims = c.u32(`the dimension count of tensor "${name}"`);
    if (nDims > MAX_DIMS) c.fail(`tensor "${name}" has ${nDims} dimensions (at most ${MAX_DIMS})`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.count(`dimension ${d} of tensor "${name}"`));
    const type = c.u32(`the type of tensor "${name}"`);
    const offset = c.count(`the offset of tensor "${name}"`);
    if (offset % alignment !== 0) c.fail(`tensor "${name}" offset ${offset} is not aligned to ${alignment}`);
    const elements = dims.reduce((a, b) => a * b, 1);
    tensors.push({ name, dims, type, offset, elements, byteLength: ggmlByteSize(type, elements) });
  }

  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  for (const t of tensors) {
    const end = dataOffset + t.offset + (t.byteLength ?? 0);
    if (end > fileSize) {
      throw new FileFormatError(
        `GGUF file "${path}" is truncated: tensor "${t.name}" ends at byte ${end} but the file has ${fileSize}. Re-download or regenerate the file.`,
        path,
      );
    }
  }
  return { path, version, metadata, tensors, alignment, dataOffset, fileSize };
}
