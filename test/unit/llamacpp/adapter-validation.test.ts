import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileFormatError } from "../../../src/core/errors.js";
import { type GgufWriteInput, gguf, writeGguf } from "../../../src/providers/gguf/index.js";
import {
  tinyLoraGguf,
  validateLoraAdapter,
  writeTinyLora,
  writeTinyModel,
} from "../../../src/providers/llamacpp/index.js";

let dir: string;
let model: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-lora-check-"));
  model = join(dir, "model.gguf");
  await writeTinyModel(model);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function check(
  name: string,
  edit: (input: GgufWriteInput) => GgufWriteInput,
): Promise<FileFormatError> {
  const path = join(dir, name);
  await writeGguf(path, edit(tinyLoraGguf({}, { seed: name, rank: 4 })));
  const error = await validateLoraAdapter(path, model).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(FileFormatError);
  expect((error as FileFormatError).file).toBe(path);
  return error as FileFormatError;
}

const withMeta =
  (key: string, value: ReturnType<typeof gguf.string> | undefined) => (input: GgufWriteInput) => ({
    ...input,
    metadata: [...(input.metadata as Iterable<[string, ReturnType<typeof gguf.string>]>)]
      .filter(([k]) => value !== undefined || k !== key)
      .map(([k, v]): [string, typeof v] => [k, k === key && value ? value : v]),
  });

describe("validateLoraAdapter", () => {
  it("accepts a matching adapter and reports its targets and ranks", async () => {
    const path = join(dir, "ok.gguf");
    await writeTinyLora(path, {}, { seed: "ok", rank: 4, alpha: 8 });
    const info = await validateLoraAdapter(path, model);
    expect(info).toMatchObject({ architecture: "llama", alpha: 8 });
    expect(info.targets).toHaveLength(14);
    expect(info.targets[0]).toEqual({ tensor: "blk.0.attn_q.weight", rank: 4 });
  });

  it("refuses a file that is not an adapter", async () => {
    expect((await check("not-adapter.gguf", withMeta("general.type", gguf.string("model")))).message).toMatch(
      /not-adapter\.gguf" is not an adapter \(general\.type is "model"/,
    );
  });

  it("refuses another adapter type", async () => {
    expect((await check("ia3.gguf", withMeta("adapter.type", gguf.string("ia3")))).message).toMatch(
      /adapter\.type "ia3", not "lora"/,
    );
  });

  it("refuses another architecture", async () => {
    expect(
      (await check("arch.gguf", withMeta("general.architecture", gguf.string("gemma")))).message,
    ).toMatch(/is for architecture "gemma" but the model .*model\.gguf" is "llama"/);
  });

  it("refuses an incomplete pair", async () => {
    const error = await check("half.gguf", (i) => ({
      ...i,
      tensors: i.tensors.filter((t) => t.name !== "blk.1.ffn_up.weight.lora_b"),
    }));
    expect(error.message).toMatch(
      /has "blk\.1\.ffn_up\.weight\.lora_a" without "blk\.1\.ffn_up\.weight\.lora_b"/,
    );
  });

  it("refuses a tensor the model does not have", async () => {
    const error = await check("extra.gguf", (i) => ({
      ...i,
      tensors: i.tensors.map((t) => ({ ...t, name: t.name.replace("blk.1.", "blk.7.") })),
    }));
    expect(error.message).toMatch(
      /targets tensor "blk\.7\.attn_q\.weight", which the model .* does not have/,
    );
  });

  it("refuses swapped A and B", async () => {
    const error = await check("swapped.gguf", (i) => ({
      ...i,
      tensors: i.tensors.map((t) => ({
        ...t,
        name: t.name.endsWith("lora_a") ? t.name.replace(/a$/, "b") : t.name.replace(/b$/, "a"),
      })),
    }));
    expect(error.message).toMatch(/mismatched shapes for "blk\.0\.attn_q\.weight"/);
  });

  it("refuses unexpected tensors but ignores norm weights like llama.cpp", async () => {
    const error = await check("odd.gguf", (i) => ({
      ...i,
      tensors: [...i.tensors, { name: "blk.0.attn_q.weight", dims: [4], data: new Float32Array(4) }],
    }));
    expect(error.message).toMatch(
      /has tensor "blk\.0\.attn_q\.weight", which is neither X\.lora_a nor X\.lora_b/,
    );
    const path = join(dir, "norm.gguf");
    const input = tinyLoraGguf({}, { seed: 1 });
    await writeGguf(path, {
      ...input,
      tensors: [...input.tensors, { name: "blk.0.attn_norm.weight", dims: [64], data: new Float32Array(64) }],
    });
    await expect(validateLoraAdapter(path, model)).resolves.toMatchObject({ architecture: "llama" });
  });
});
