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

/**
 * Random access to the bytes of a GGUF file: `at(pos, n)` makes bytes [pos, pos + n) available in
 * `buffer` and returns where they start in it. The caller has checked that pos + n <= size.
 */
export interface ByteSource {
  readonly size: number;
  readonly buffer: Buffer;
  at(pos: number, n: number): number;
}

/** A ByteSource over bytes already in memory. */
export function bufferSource(bytes: Uint8Array): ByteSource {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { size: buffer.byteLength, buffer, at: (pos) => pos };
}

/** Limits that keep a hostile header from costing more than a real one. */
export const GGUF_HEADER_LIMITS = {
  /** Arrays nest at most this deep (llama.cpp writes none nested). */
  maxNesting: 8,
  /** A metadata string (or key, or tensor name) is at most this many bytes. Chat templates are ~10 KB. */
  maxStringBytes: 16 * 1024 * 1024,
  /** Arrays with more items are skipped, not materialised (the largest vocabularies hold ~260k). */
  maxArrayItems: 1 << 20,
  /** Items materialised over all arrays of a header; later arrays past it are skipped. */
  maxTotalItems: 4 << 20,
} as const;

const TYPE_NAMES = Object.fromEntries(
  Object.entries(GGUF_VALUE_TYPE_CODES).map(([name, code]) => [code, name]),
) as Record<number, GgufValueTypeName>;

/** Bytes per item of the fixed-size value types. */
const FIXED_SIZE: Partial<Record<GgufValueTypeName, number>> = {
  u8: 1,
  i8: 1,
  bool: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  u64: 8,
  i64: 8,
  f64: 8,
};

/** The fewest bytes one item of a type takes: strings a length, arrays a type and a count. */
function minItemBytes(type: GgufValueTypeName): number {
  return FIXED_SIZE[type] ?? (type === "string" ? 8 : 12);
}

/** The most dimensions a ggml tensor has. */
const MAX_DIMS = 4;

const decoder = new TextDecoder("utf-8", { fatal: true });

/** What is being read, for error messages; a function when building the text would cost (per array item). */
type What = string | (() => string);
const named = (what: What): string => (typeof what === "string" ? what : what());

/** A little-endian cursor over a file's bytes. Every error names the file. */
class Cursor {
  pos = 0;
  /** Items materialised so far (see GGUF_HEADER_LIMITS.maxTotalItems). */
  kept = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly path: string,
  ) {}

  get size(): number {
    return this.source.size;
  }

  fail(problem: string): never {
    throw new FileFormatError(
      `GGUF file "${this.path}" is corrupt: ${problem} (at byte ${this.pos}).`,
      this.path,
    );
  }

  private need(n: number, what: What): void {
    if (this.pos + n > this.size) {
      throw new FileFormatError(
        `GGUF file "${this.path}" is truncated: the header ends while reading ${named(what)} (byte ${this.pos} of ${this.size}). Re-download or regenerate the file.`,
        this.path,
      );
    }
  }

  /** Checks `n` bytes are there, advances past them and returns their offset in the source's buffer. */
  private take(n: number, what: What): number {
    this.need(n, what);
    const at = this.source.at(this.pos, n);
    this.pos += n;
    return at;
  }

  /** Moves past `n` bytes without reading them. */
  skip(n: number, what: What): void {
    this.need(n, what);
    this.pos += n;
  }

  u32(what: string): number {
    return this.source.buffer.readUInt32LE(this.take(4, what));
  }
  u64(what: What): bigint {
    return this.source.buffer.readBigUInt64LE(this.take(8, what));
  }
  /** A u64 that must fit a JS number (counts, lengths, offsets). */
  count(what: What): number {
    const at = this.take(8, what);
    const low = this.source.buffer.readUInt32LE(at);
    const high = this.source.buffer.readUInt32LE(at + 4);
    // Without BigInt: this runs once per item when a large string array is skipped.
    if (high > 0x1fffff) {
      this.pos -= 8;
      this.fail(
        `${named(what)} is ${this.source.buffer.readBigUInt64LE(this.source.at(this.pos, 8))}, far larger than the file`,
      );
    }
    return high * 2 ** 32 + low;
  }

  /** The byte length of a string, checked against the file and the string limit. */
  private stringLength(what: What): number {
    const length = this.count(() => `the length of ${named(what)}`);
    if (length > this.size - this.pos) {
      this.fail(`${named(what)} claims ${length} bytes, more than the file holds`);
    }
    if (length > GGUF_HEADER_LIMITS.maxStringBytes) {
      this.fail(
        `${named(what)} is ${length} bytes long; Herd reads strings of at most ${GGUF_HEADER_LIMITS.maxStringBytes}`,
      );
    }
    return length;
  }

  string(what: string): string {
    const length = this.stringLength(what);
    const at = this.take(length, what);
    try {
      return decoder.decode(this.source.buffer.subarray(at, at + length));
    } catch {
      this.pos -= length;
      this.fail(`${what} is not valid UTF-8`);
    }
  }

  scalar(type: GgufValueTypeName, what: string): number | bigint | boolean | string {
    const b = this.source.buffer;
    switch (type) {
      case "u8":
        return b.readUInt8(this.take(1, what));
      case "i8":
        return b.readInt8(this.take(1, what));
      case "u16":
        return b.readUInt16LE(this.take(2, what));
      case "i16":
        return b.readInt16LE(this.take(2, what));
      case "u32":
        return b.readUInt32LE(this.take(4, what));
      case "i32":
        return b.readInt32LE(this.take(4, what));
      case "f32":
        return b.readFloatLE(this.take(4, what));
      case "f64":
        return b.readDoubleLE(this.take(8, what));
      case "u64":
        return b.readBigUInt64LE(this.take(8, what));
      case "i64":
        return b.readBigInt64LE(this.take(8, what));
      case "bool": {
        const v = b.readUInt8(this.take(1, what));
        if (v > 1) {
          this.pos--;
          this.fail(`${what} is a bool with value ${v}`);
        }
        return v === 1;
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

  /** An array's item type and count, checked against the file and the nesting limit. */
  private arrayHead(what: string, depth: number): { itemType: GgufValueTypeName; length: number } {
    if (depth > GGUF_HEADER_LIMITS.maxNesting) {
      this.fail(`${what} nests arrays more than ${GGUF_HEADER_LIMITS.maxNesting} deep`);
    }
    const itemType = this.valueType(`the items of ${what}`);
    const length = this.count(`the length of ${what}`);
    if (length > (this.size - this.pos) / minItemBytes(itemType)) {
      this.fail(`${what} claims ${length} items, more than the file holds`);
    }
    return { itemType, length };
  }

  /**
   * An array value. Arrays over the item limits are skipped without materialising them: their
   * value is empty and `skipped` holds their length.
   */
  array(what: string, depth = 1): GgufArrayValue {
    const { itemType, length } = this.arrayHead(what, depth);
    const limits = GGUF_HEADER_LIMITS;
    if (length > limits.maxArrayItems || this.kept + length > limits.maxTotalItems) {
      this.skipItems(itemType, length, what, depth);
      return { type: "array", itemType, value: [], skipped: length } as GgufArrayValue;
    }
    this.kept += length;
    const items: unknown[] = new Array(length);
    for (let i = 0; i < length; i++) {
      items[i] =
        itemType === "array"
          ? this.array(`${what}[${i}]`, depth + 1)
          : this.scalar(itemType, `${what}[${i}]`);
    }
    return { type: "array", itemType, value: items } as GgufArrayValue;
  }

  /** Moves past `length` items without decoding them: fixed-size ones in one step. */
  private skipItems(itemType: GgufValueTypeName, length: number, what: string, depth: number): void {
    const fixed = FIXED_SIZE[itemType];
    if (fixed !== undefined) {
      this.skip(fixed * length, what);
      return;
    }
    if (itemType === "string") {
      this.skipStrings(length, what);
      return;
    }
    for (let i = 0; i < length; i++) {
      const inner = this.arrayHead(`${what}[${i}]`, depth + 1);
      this.skipItems(inner.itemType, inner.length, `${what}[${i}]`, depth + 1);
    }
  }

  /** Moves past `length` strings: a tight loop over their lengths (a hostile file may declare millions). */
  private skipStrings(length: number, what: string): void {
    const max = GGUF_HEADER_LIMITS.maxStringBytes;
    for (let i = 0; i < length; i++) {
      if (this.pos + 8 <= this.size) {
        const at = this.source.at(this.pos, 8);
        const buffer = this.source.buffer;
        const bytes = buffer.readUInt32LE(at) + buffer.readUInt32LE(at + 4) * 2 ** 32;
        if (bytes <= max && this.pos + 8 + bytes <= this.size) {
          this.pos += 8 + bytes;
          continue;
        }
      }
      // Not a string that fits: read it the careful way, which names the problem.
      const item = () => `${what}[${i}]`;
      this.skip(this.stringLength(item), item);
    }
  }

  value(what: string): GgufValue {
    const type = this.valueType(what);
    if (type === "array") return this.array(what);
    return { type, value: this.scalar(type, what) } as GgufValue;
  }
}

/**
 * Parses a GGUF header (metadata and tensor infos) from a file's bytes, reading only the header.
 * Hostile headers stay cheap: array nesting and string sizes are bounded, and arrays over
 * `GGUF_HEADER_LIMITS` are skipped without being materialised (Herd reads none that large).
 * @throws FileFormatError naming `path` when the file is not a valid GGUF v2/v3 file
 */
export function parseGgufHeader(source: ByteSource, path: string): GgufHeader {
  const fileSize = source.size;
  const c = new Cursor(source, path);
  if (fileSize < 4) {
    throw new FileFormatError(`"${path}" is not a GGUF file: it is only ${fileSize} bytes long.`, path);
  }
  const magic = c.u32("the magic");
  if (magic !== GGUF_MAGIC) {
    const text = source.buffer.subarray(source.at(0, 4), source.at(0, 4) + 4).toString("latin1");
    throw new FileFormatError(
      `"${path}" is not a GGUF file (bad magic ${JSON.stringify(text)}, expected "GGUF"). Point Herd at a .gguf model or adapter.`,
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
    metadata.set(key, c.value(`metadata "${key.length > 100 ? `${key.slice(0, 100)}...` : key}"`));
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
