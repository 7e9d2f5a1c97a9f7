import { writeFile } from "node:fs/promises";

/**
 * Hostile GGUF headers written byte by byte (the writer refuses to produce them): a metadata
 * array that declares tens of millions of items, and arrays nested 200,000 deep.
 */
const enc = new TextEncoder();

class Bytes {
  private readonly parts: Uint8Array[] = [];
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.parts.push(b);
    return this;
  }
  u64(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.parts.push(b);
    return this;
  }
  string(s: string): this {
    const b = enc.encode(s);
    this.u64(b.byteLength);
    this.parts.push(b);
    return this;
  }
  raw(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  concat(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

const U8 = 0;
const U32 = 4;
const STRING = 8;
const ARRAY = 9;

function start(kvCount: number): Bytes {
  return new Bytes().raw(enc.encode("GGUF")).u32(3).u64(0).u64(kvCount);
}

/** `general.architecture = "llama"` then `big` = an array of `items` u8 values (`items` bytes). */
export async function writeHugeByteArray(path: string, items: number): Promise<void> {
  const head = start(2)
    .string("general.architecture")
    .u32(STRING)
    .string("llama")
    .string("big")
    .u32(ARRAY)
    .u32(U8)
    .u64(items)
    .concat();
  await writeFile(path, Buffer.concat([head, Buffer.alloc(items, 7)]));
}

/** An array of `items` one-byte strings (9 bytes each). */
export async function writeHugeStringArray(path: string, items: number): Promise<void> {
  const head = start(1).string("tokenizer.ggml.junk").u32(ARRAY).u32(STRING).u64(items).concat();
  const body = Buffer.alloc(items * 9);
  for (let i = 0; i < items; i++) {
    body.writeBigUInt64LE(1n, i * 9);
    body[i * 9 + 8] = 0x61;
  }
  await writeFile(path, Buffer.concat([head, body]));
}

/** `deep` = an array of one array of one array ... `depth` levels, the innermost an empty u32 array. */
export async function writeDeeplyNested(path: string, depth: number): Promise<void> {
  const level = new Bytes().u32(ARRAY).u64(1).concat(); // item type array, one item
  const head = start(1).string("deep").u32(ARRAY).concat();
  const levels = Buffer.alloc(level.byteLength * depth);
  for (let i = 0; i < depth; i++) levels.set(level, i * level.byteLength);
  const inner = new Bytes().u32(U32).u64(0).concat();
  await writeFile(path, Buffer.concat([head, levels, inner]));
}

/** `count` keys `a0`, `a1`, ... each an array of `items` u8 values. */
export async function writeByteArrays(path: string, count: number, items: number): Promise<void> {
  const parts: Uint8Array[] = [start(count).concat()];
  for (let i = 0; i < count; i++) {
    parts.push(new Bytes().string(`a${i}`).u32(ARRAY).u32(U8).u64(items).concat(), Buffer.alloc(items, i));
  }
  await writeFile(path, Buffer.concat(parts));
}
