import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileFormatError } from "../../../src/core/errors.js";
import { decodeFloats, encodeFloats } from "../../../src/providers/adapters/dtype.js";
import { SafetensorsFile } from "../../../src/providers/adapters/safetensors-file.js";
import { SafetensorsWriter } from "../../../src/providers/adapters/safetensors-writer.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-st-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A safetensors file built by hand from the format description: u64 LE length, JSON header, data. */
function handBuilt(header: object, data: Uint8Array, lengthOverride?: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(lengthOverride ?? json.length));
  return Buffer.concat([prefix, json, data]);
}

describe("SafetensorsFile", () => {
  it("reads tensors by offset from a file written to the format description", async () => {
    const data = Buffer.alloc(20);
    for (const [i, v] of [1.5, -2, 0.25, 8].entries()) data.writeFloatLE(v, i * 4);
    data.writeUInt16LE(0x3c00, 16); // F16 1.0
    data.writeUInt16LE(0xc000, 18); // F16 -2.0
    const path = join(dir, "a.safetensors");
    await writeFile(
      path,
      handBuilt(
        {
          __metadata__: { format: "pt" },
          w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
          h: { dtype: "F16", shape: [2], data_offsets: [16, 20] },
        },
        data,
      ),
    );
    const file = await SafetensorsFile.open(path);
    expect(file.metadata).toEqual({ format: "pt" });
    expect([...file.tensors.keys()]).toEqual(["w", "h"]);
    expect([...(await file.readFloats("w"))]).toEqual([1.5, -2, 0.25, 8]);
    expect([...(await file.readFloats("h"))]).toEqual([1, -2]);
    await file.close();
  });

  it("writes a header with contiguous offsets and 8-byte aligned data that reads back", async () => {
    const path = join(dir, "b.safetensors");
    const writer = await SafetensorsWriter.create(
      path,
      [
        { name: "x", dtype: "BF16", shape: [3] },
        { name: "y", dtype: "F32", shape: [1, 2] },
      ],
      { format: "pt" },
    );
    await writer.write("x", encodeFloats(new Float32Array([1, 0.5, -4]), "BF16"));
    await writer.write("y", encodeFloats(new Float32Array([3, 7]), "F32"));
    await writer.close();

    const bytes = await readFile(path);
    const length = Number(bytes.readBigUInt64LE(0));
    expect((8 + length) % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + length).toString());
    expect(header).toEqual({
      __metadata__: { format: "pt" },
      x: { dtype: "BF16", shape: [3], data_offsets: [0, 6] },
      y: { dtype: "F32", shape: [1, 2], data_offsets: [6, 14] },
    });
    expect(bytes.length).toBe(8 + length + 14);
    expect(bytes.readUInt16LE(8 + length)).toBe(0x3f80);
    const file = await SafetensorsFile.open(path);
    expect([...(await file.readFloats("x"))]).toEqual([1, 0.5, -4]);
    expect([...(await file.readFloats("y"))]).toEqual([3, 7]);
    await file.close();
  });

  it.each([
    ["a header length larger than the file", handBuilt({}, new Uint8Array(), 1 << 20), /header length/],
    [
      "a header that is not JSON",
      Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{oops")]),
      /not JSON/,
    ],
    [
      "data offsets past the end",
      handBuilt({ w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)),
      /after the end/,
    ],
    [
      "offsets that disagree with the shape",
      handBuilt({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /needs 12 bytes/,
    ],
    ["a file shorter than 8 bytes", Buffer.from([1, 2, 3]), /shorter than the 8-byte/],
  ])("rejects %s with an error naming the file", async (_, bytes, reason) => {
    const path = join(dir, "bad.safetensors");
    await writeFile(path, bytes);
    const error = await SafetensorsFile.open(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileFormatError);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(reason);
  });
});

describe("float encodings", () => {
  it("encodes F16 with round-to-nearest-even, overflow to infinity and subnormals", () => {
    const values = new Float32Array([1, -2, 65504, 65520, 2 ** -24, 1e-10, 0.1, 1 + 2 ** -11]);
    const halves = new Uint16Array(encodeFloats(values, "F16").buffer);
    expect([...halves]).toEqual([0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x2e66, 0x3c00]);
    expect([...decodeFloats(encodeFloats(new Float32Array([0.5, -0.375]), "F16"), "F16", 2)]).toEqual([
      0.5, -0.375,
    ]);
  });

  it("encodes BF16 by rounding the top half of float32", () => {
    const halves = new Uint16Array(encodeFloats(new Float32Array([1, 0.1, -3]), "BF16").buffer);
    expect([...halves]).toEqual([0x3f80, 0x3dcd, 0xc040]);
  });
});
