import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileFormatError, InvalidInputError } from "../../../src/core/errors.js";
import {
  encodeGguf,
  GgmlType,
  type GgufValue,
  gguf,
  ggufNumber,
  ggufString,
  ggufStringArray,
  parseGguf,
  readGgufHeader,
  readGgufTensor,
  readGgufTensors,
  writeGguf,
} from "../../../src/providers/gguf/index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-gguf-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const allTypes: [string, GgufValue][] = [
  ["t.u8", gguf.u8(255)],
  ["t.i8", gguf.i8(-128)],
  ["t.u16", gguf.u16(65535)],
  ["t.i16", gguf.i16(-32768)],
  ["t.u32", gguf.u32(4294967295)],
  ["t.i32", gguf.i32(-2147483648)],
  ["t.f32", gguf.f32(0.5)],
  ["t.f64", gguf.f64(Math.PI)],
  ["t.u64", gguf.u64(18446744073709551615n)],
  ["t.i64", gguf.i64(-9223372036854775808n)],
  ["t.bool", gguf.bool(true)],
  ["t.string", gguf.string("héllo ✓ 世界")],
  ["t.empty", gguf.string("")],
  ["t.strings", gguf.strings(["a", "", "Ġthe"])],
  ["t.floats", gguf.numbers("f32", [1, -2.5])],
  ["t.i64s", gguf.bigints("i64", [-1n, 2n])],
  ["t.bools", gguf.bools([false, true])],
  [
    "t.nested",
    {
      type: "array",
      itemType: "array",
      value: [gguf.numbers("u8", [1, 2]), gguf.strings(["x"])],
    },
  ],
];

describe("GGUF metadata", () => {
  it("round-trips every value type with its type kept, in order", async () => {
    const path = join(dir, "meta.gguf");
    await writeGguf(path, { metadata: new Map(allTypes), tensors: [] });
    const header = await readGgufHeader(path);
    expect([...header.metadata]).toEqual(allTypes);
    expect(header.version).toBe(3);
    expect(header.tensors).toEqual([]);
  });

  it("accepts a plain record and offers typed getters", () => {
    const header = parseGguf(
      encodeGguf({
        metadata: { "general.architecture": gguf.string("llama"), "llama.block_count": gguf.u32(2) },
        tensors: [],
      }),
      "x.gguf",
    );
    expect(ggufString(header, "general.architecture")).toBe("llama");
    expect(ggufNumber(header, "llama.block_count")).toBe(2);
    expect(ggufString(header, "missing")).toBeUndefined();
    expect(() => ggufStringArray(header, "llama.block_count")).toThrow(
      /x\.gguf.*should be an array of strings but is u32/,
    );
  });

  it("writes the exact bytes of the spec for a minimal file", () => {
    const bytes = encodeGguf({ metadata: { a: gguf.u32(7) }, tensors: [] });
    const expected = Buffer.concat([
      Buffer.from("GGUF", "latin1"),
      Buffer.from([3, 0, 0, 0]), // version
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]), // tensor count
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), // kv count
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), // key length
      Buffer.from("a"),
      Buffer.from([4, 0, 0, 0]), // u32
      Buffer.from([7, 0, 0, 0]),
    ]);
    expect(Buffer.from(bytes.subarray(0, expected.length))).toEqual(expected);
    expect(bytes.byteLength).toBe(64); // 41 header bytes padded to the 32-byte alignment
    expect([...bytes.subarray(expected.length)].every((b) => b === 0)).toBe(true);
  });

  it("reads headers larger than the first read (a big vocabulary)", async () => {
    const tokens = Array.from({ length: 120_000 }, (_, i) => `token-${i}-${"x".repeat(i % 7)}`);
    const path = join(dir, "vocab.gguf");
    await writeGguf(path, {
      metadata: { "tokenizer.ggml.tokens": gguf.strings(tokens) },
      tensors: [{ name: "w", dims: [3], data: new Float32Array([1, 2, 3]) }],
    });
    const header = await readGgufHeader(path);
    expect(ggufStringArray(header, "tokenizer.ggml.tokens")).toEqual(tokens);
    expect([...(await readGgufTensor(header, "w"))]).toEqual([1, 2, 3]);
  });
});

describe("GGUF tensors", () => {
  const a = Float32Array.from({ length: 6 }, (_, i) => i * 0.25 - 0.5);
  const b = Float32Array.from({ length: 5 }, (_, i) => 1 / (i + 1));

  it("round-trips F32 exactly and F16/BF16 within their precision, at aligned offsets", async () => {
    const path = join(dir, "t.gguf");
    await writeGguf(path, {
      metadata: {},
      tensors: [
        { name: "a", dims: [3, 2], data: a },
        { name: "b16", dims: [5], type: GgmlType.F16, data: b },
        { name: "bb", dims: [5], type: GgmlType.BF16, data: () => b },
      ],
    });
    const header = await readGgufHeader(path);
    expect(header.alignment).toBe(32);
    expect(header.dataOffset % 32).toBe(0);
    expect(header.tensors.map((t) => [t.name, t.dims, t.type, t.offset % 32])).toEqual([
      ["a", [3, 2], GgmlType.F32, 0],
      ["b16", [5], GgmlType.F16, 0],
      ["bb", [5], GgmlType.BF16, 0],
    ]);
    expect([...(await readGgufTensor(header, "a"))]).toEqual([...a]);
    const half = await readGgufTensor(header, "b16");
    const bf = await readGgufTensor(header, "bb");
    for (let i = 0; i < b.length; i++) {
      expect(half[i]).toBeCloseTo(b[i]!, 3);
      expect(bf[i]).toBeCloseTo(b[i]!, 2);
    }
    const streamed: string[] = [];
    for await (const t of readGgufTensors(header, ["bb", "a"]))
      streamed.push(`${t.info.name}:${t.data.length}`);
    expect(streamed).toEqual(["bb:5", "a:6"]);
  });

  it("honours general.alignment", async () => {
    const path = join(dir, "aligned.gguf");
    await writeGguf(path, {
      metadata: { "general.alignment": gguf.u32(64) },
      tensors: [
        { name: "x", dims: [3], data: new Float32Array(3) },
        { name: "y", dims: [2], data: new Float32Array([7, 8]) },
      ],
    });
    const header = await readGgufHeader(path);
    expect(header.alignment).toBe(64);
    expect(header.dataOffset % 64).toBe(0);
    expect(header.tensors[1]!.offset).toBe(64);
    expect([...(await readGgufTensor(header, "y"))]).toEqual([7, 8]);
  });

  it("copies raw bytes of any known type unchanged", async () => {
    const raw = Uint8Array.from({ length: 18 }, (_, i) => i);
    const bytes = encodeGguf({
      metadata: {},
      tensors: [{ name: "q", dims: [32], type: GgmlType.Q4_0, data: raw }],
    });
    const header = parseGguf(bytes);
    expect(header.tensors[0]!.byteLength).toBe(18);
    const start = header.dataOffset + header.tensors[0]!.offset;
    expect([...bytes.subarray(start, start + 18)]).toEqual([...raw]);
  });

  it("rejects inconsistent tensors with a clear error", () => {
    const write = (t: Parameters<typeof encodeGguf>[0]["tensors"]) => () =>
      encodeGguf({ metadata: {}, tensors: t });
    expect(write([{ name: "w", dims: [2, 2], data: new Float32Array(3) }])).toThrow(
      /"w" has 3 values; dims \[2,2\] need 4/,
    );
    expect(
      write([
        { name: "w", dims: [1], data: new Float32Array(1) },
        { name: "w", dims: [1], data: new Float32Array(1) },
      ]),
    ).toThrow(InvalidInputError);
    expect(write([{ name: "w", dims: [0], data: new Float32Array(0) }])).toThrow(/positive integers/);
  });
});

describe("GGUF errors name the file", () => {
  async function sample(): Promise<string> {
    const path = join(dir, "s.gguf");
    await writeGguf(path, {
      metadata: { "general.name": gguf.string("sample") },
      tensors: [{ name: "w", dims: [64], data: new Float32Array(64) }],
    });
    return path;
  }

  it("a missing file", async () => {
    const path = join(dir, "nope.gguf");
    await expect(readGgufHeader(path)).rejects.toThrow(new RegExp(`"${path}" does not exist`));
  });

  it("a file that is not GGUF", async () => {
    const path = join(dir, "model.bin");
    await writeFile(path, "PK\u0003\u0004 this is a zip");
    const error = await readGgufHeader(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileFormatError);
    expect((error as FileFormatError).file).toBe(path);
    expect((error as Error).message).toMatch(/is not a GGUF file \(bad magic/);
  });

  it("an unsupported version", async () => {
    const path = await sample();
    const bytes = await readFile(path);
    bytes.writeUInt32LE(1, 4);
    await writeFile(path, bytes);
    await expect(readGgufHeader(path)).rejects.toThrow(/unsupported version 1/);
  });

  it("a truncated header", async () => {
    const path = await sample();
    await truncate(path, 30);
    await expect(readGgufHeader(path)).rejects.toThrow(
      /s\.gguf" is truncated: the header ends while reading/,
    );
  });

  it("truncated tensor data", async () => {
    const path = await sample();
    const size = (await readFile(path)).byteLength;
    await truncate(path, size - 10);
    await expect(readGgufHeader(path)).rejects.toThrow(/truncated: tensor "w" ends at byte/);
  });

  it("a corrupt length", async () => {
    const path = await sample();
    const bytes = await readFile(path);
    bytes.writeBigUInt64LE(1n << 40n, 24); // the first key's length
    await writeFile(path, bytes);
    await expect(readGgufHeader(path)).rejects.toThrow(FileFormatError);
  });

  it("a quantized tensor cannot be read as floats", async () => {
    const path = join(dir, "q.gguf");
    await writeGguf(path, {
      metadata: {},
      tensors: [{ name: "q", dims: [32], type: GgmlType.Q8_0, data: new Uint8Array(34) }],
    });
    await expect(readGgufTensor(await readGgufHeader(path), "q")).rejects.toThrow(
      /is Q8_0; only F32, F16 and BF16/,
    );
    await expect(readGgufTensor(await readGgufHeader(path), "other")).rejects.toThrow(
      /has no tensor "other"/,
    );
  });
});

describe("atomic writes", () => {
  it("replaces the file whole and leaves no temp file, also when writing fails", async () => {
    const path = join(dir, "a.gguf");
    await writeGguf(path, { metadata: { v: gguf.u32(1) }, tensors: [] });
    const failing = writeGguf(path, {
      metadata: { v: gguf.u32(2) },
      tensors: [
        {
          name: "w",
          dims: [1],
          data: () => {
            throw new Error("producer failed");
          },
        },
      ],
    });
    await expect(failing).rejects.toThrow("producer failed");
    expect(ggufNumber(await readGgufHeader(path), "v")).toBe(1);
    expect(await readdir(dir)).toEqual(["a.gguf"]);
    await writeGguf(path, { metadata: { v: gguf.u32(3) }, tensors: [] });
    expect(ggufNumber(await readGgufHeader(path), "v")).toBe(3);
    expect(await readdir(dir)).toEqual(["a.gguf"]);
  });
});
