import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GgmlType,
  type GgufHeader,
  gguf,
  readGgufHeader,
  writeGguf,
} from "../../src/providers/gguf/index.js";
import { writeTinyLora, writeTinyModel } from "../../src/providers/llamacpp/index.js";

/** Herd's GGUF writer and reader agree with node-llama-cpp's independent GGUF parser. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-gguf-compat-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** node-llama-cpp nests metadata by dotted key; flatten it back. */
function flatten(value: unknown, prefix = "", out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = value;
  return out;
}

async function compare(path: string): Promise<GgufHeader> {
  const ours = await readGgufHeader(path);
  const theirs = await readGgufFileInfo(path, { readTensorInfo: true });
  expect(theirs.version).toBe(ours.version);
  const ourMetadata = Object.fromEntries([...ours.metadata].map(([k, v]) => [k, v.value]));
  expect(flatten(theirs.metadata)).toEqual(ourMetadata);
  expect(
    theirs.tensorInfo?.map((t) => ({
      name: t.name,
      dims: t.dimensions.map(Number),
      type: t.ggmlType,
      at: Number(t.fileOffset),
    })),
  ).toEqual(
    ours.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, at: ours.dataOffset + t.offset })),
  );
  return ours;
}

describe("GGUF compatibility with node-llama-cpp's parser", () => {
  it("metadata of every scalar type, arrays, alignment and tensor offsets", async () => {
    const path = join(dir, "types.gguf");
    await writeGguf(path, {
      metadata: {
        "general.alignment": gguf.u32(64),
        "t.u8": gguf.u8(200),
        "t.i16": gguf.i16(-300),
        "t.u32": gguf.u32(70000),
        "t.i32": gguf.i32(-70000),
        "t.f32": gguf.f32(0.25),
        "t.f64": gguf.f64(1.5),
        "t.bool": gguf.bool(true),
        "t.string": gguf.string("héllo"),
        "t.strings": gguf.strings(["a", "Ġb"]),
        "t.ints": gguf.numbers("i32", [1, -2, 3]),
      },
      tensors: [
        { name: "a", dims: [3, 5], data: new Float32Array(15) },
        { name: "b", dims: [7], type: GgmlType.F16, data: new Float32Array(7) },
        { name: "c", dims: [2, 2, 2], type: GgmlType.BF16, data: new Float32Array(8) },
      ],
    });
    const header = await compare(path);
    expect(header.alignment).toBe(64);
  });

  it("the tiny model and a tiny LoRA adapter", async () => {
    await writeTinyModel(join(dir, "model.gguf"));
    await writeTinyLora(join(dir, "lora.gguf"), {}, { seed: "code" });
    expect((await compare(join(dir, "model.gguf"))).tensors).toHaveLength(21);
    expect((await compare(join(dir, "lora.gguf"))).tensors).toHaveLength(28);
  });
});
