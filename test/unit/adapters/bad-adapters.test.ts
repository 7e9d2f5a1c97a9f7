import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileFormatError, InvalidInputError } from "../../../src/core/errors.js";
import type { LoraAdapter } from "../../../src/providers/adapters/lora-adapter.js";
import { mergeAdapterFiles, mergeAdapters } from "../../../src/providers/adapters/merge.js";
import { openAdapter } from "../../../src/providers/adapters/open-adapter.js";
import { gguf, writeGguf } from "../../../src/providers/gguf/index.js";
import { writeRandomAdapter } from "./random-adapters.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-bad-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const q = (inFeatures = 16) => [{ name: "blk.0.attn_q.weight", rank: 4, inFeatures, outFeatures: 16 }];

async function expectCleanFailure(
  run: () => Promise<unknown>,
  type: typeof FileFormatError | typeof InvalidInputError,
  text: RegExp,
) {
  const before = (await readdir(dir)).sort();
  const error = await run().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(type);
  expect((error as Error).message).toMatch(text);
  expect((await readdir(dir)).sort()).toEqual(before);
}

describe("merging bad input fails with one clear error and leaves no output", () => {
  it("a corrupt safetensors header", async () => {
    await writeRandomAdapter(
      join(dir, "good"),
      "peft",
      [{ name: "model.layers.0.self_attn.q_proj", rank: 2, inFeatures: 4, outFeatures: 4 }],
      { seed: 1 },
    );
    await mkdir(join(dir, "broken"));
    await writeFile(
      join(dir, "broken", "adapter_config.json"),
      JSON.stringify({ peft_type: "LORA", r: 2, lora_alpha: 2, target_modules: ["q_proj"] }),
    );
    await writeFile(
      join(dir, "broken", "adapter_model.safetensors"),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x7b]),
    );
    await expectCleanFailure(
      () =>
        mergeAdapterFiles(join(dir, "out"), [
          { path: join(dir, "good"), weight: 1 },
          { path: join(dir, "broken"), weight: 1 },
        ]),
      FileFormatError,
      /Corrupt safetensors file ".*broken\/adapter_model\.safetensors": the header length/,
    );
  });

  it("mismatched shapes", async () => {
    await writeRandomAdapter(join(dir, "a.gguf"), "gguf", q(16), { seed: 1 });
    await writeRandomAdapter(join(dir, "b.gguf"), "gguf", q(32), { seed: 2 });
    await expectCleanFailure(
      () =>
        mergeAdapterFiles(join(dir, "m.gguf"), [
          { path: join(dir, "a.gguf"), weight: 1 },
          { path: join(dir, "b.gguf"), weight: 1 },
        ]),
      FileFormatError,
      /Adapter ".*b\.gguf" changes "blk\.0\.attn_q\.weight" as a \[16, 32\] weight but ".*a\.gguf" as \[16, 16\]/,
    );
  });

  it("a PEFT config whose r does not match the tensors", async () => {
    await writeRandomAdapter(
      join(dir, "a"),
      "peft",
      [{ name: "model.layers.0.self_attn.q_proj", rank: 2, inFeatures: 4, outFeatures: 4 }],
      { seed: 1 },
    );
    await writeFile(
      join(dir, "a", "adapter_config.json"),
      JSON.stringify({ peft_type: "LORA", r: 8, lora_alpha: 16, target_modules: ["q_proj"] }),
    );
    await expectCleanFailure(
      () => mergeAdapterFiles(join(dir, "out"), [{ path: join(dir, "a"), weight: 1 }]),
      FileFormatError,
      /do not match rank r=8 from adapter_config\.json/,
    );
  });

  it("an adapter for another architecture", async () => {
    await writeRandomAdapter(join(dir, "a.gguf"), "gguf", q(), { seed: 1, architecture: "llama" });
    await writeRandomAdapter(join(dir, "b.gguf"), "gguf", q(), { seed: 2, architecture: "qwen2" });
    await expectCleanFailure(
      () =>
        mergeAdapterFiles(join(dir, "m.gguf"), [
          { path: join(dir, "a.gguf"), weight: 1 },
          { path: join(dir, "b.gguf"), weight: 1 },
        ]),
      FileFormatError,
      /Adapter ".*b\.gguf" is for architecture "qwen2" but ".*a\.gguf" is for "llama"/,
    );
  });

  it("an adapter that does not fit the base model", async () => {
    await writeRandomAdapter(join(dir, "a.gguf"), "gguf", q(), { seed: 1 });
    await writeGguf(join(dir, "base.gguf"), {
      metadata: new Map([["general.architecture", gguf.string("llama")]]),
      tensors: [{ name: "blk.0.attn_q.weight", dims: [8, 8], data: new Float32Array(64) }],
    });
    await expectCleanFailure(
      () =>
        mergeAdapterFiles(join(dir, "m.gguf"), [{ path: join(dir, "a.gguf"), weight: 1 }], {
          baseModel: join(dir, "base.gguf"),
        }),
      FileFormatError,
      /changes "blk\.0\.attn_q\.weight" as ne \[16, 16\] but the base model ".*base\.gguf" has ne \[8,8\]/,
    );
  });

  it("a base model instead of an adapter", async () => {
    await writeGguf(join(dir, "model.gguf"), {
      metadata: new Map([
        ["general.architecture", gguf.string("llama")],
        ["general.type", gguf.string("model")],
      ]),
      tensors: [{ name: "blk.0.attn_q.weight", dims: [8, 8], data: new Float32Array(64) }],
    });
    await expectCleanFailure(
      () => mergeAdapterFiles(join(dir, "m.gguf"), [{ path: join(dir, "model.gguf"), weight: 1 }]),
      FileFormatError,
      /general\.type is "model", not "adapter"/,
    );
  });

  it("an adapter cut short", async () => {
    await writeRandomAdapter(join(dir, "a.gguf"), "gguf", q(), { seed: 1 });
    const bytes = await readFile(join(dir, "a.gguf"));
    await writeFile(join(dir, "a.gguf"), bytes.subarray(0, bytes.length - 100));
    await expectCleanFailure(
      () => mergeAdapterFiles(join(dir, "m.gguf"), [{ path: join(dir, "a.gguf"), weight: 1 }]),
      FileFormatError,
      /GGUF file ".*a\.gguf" is truncated/,
    );
  });

  it.each(["m.gguf", "out"])("a read error half way through writing %s", async (out) => {
    const two = [...q(), { name: "blk.1.attn_q.weight", rank: 4, inFeatures: 16, outFeatures: 16 }];
    const format = out.endsWith(".gguf") ? "gguf" : "peft";
    await writeRandomAdapter(join(dir, "a"), format, two, { seed: 1 });
    const adapter = await openAdapter(join(dir, "a"));
    const failing: LoraAdapter = {
      ...adapter,
      modules: adapter.modules,
      module: (name) => adapter.module(name),
      readA: (name) => adapter.readA(name),
      readB: async (name) => {
        if (name.includes("1")) throw new FileFormatError("disk went away");
        return adapter.readB(name);
      },
    };
    await expectCleanFailure(
      () => mergeAdapters(join(dir, out), [{ adapter: failing, weight: 1 }]),
      FileFormatError,
      /disk went away/,
    );
    await adapter.close();
  });

  it("a missing file", async () => {
    await writeRandomAdapter(join(dir, "a.gguf"), "gguf", q(), { seed: 1 });
    await expectCleanFailure(
      () =>
        mergeAdapterFiles(join(dir, "m.gguf"), [
          { path: join(dir, "a.gguf"), weight: 1 },
          { path: join(dir, "nope.gguf"), weight: 1 },
        ]),
      FileFormatError,
      /Adapter ".*nope\.gguf" does not exist/,
    );
  });

  it("a weight that is not a finite number", async () => {
    await writeRandomAdapter(join(dir, "a.gguf"), "gguf", q(), { seed: 1 });
    await expectCleanFailure(
      () => mergeAdapterFiles(join(dir, "m.gguf"), [{ path: join(dir, "a.gguf"), weight: Number.NaN }]),
      InvalidInputError,
      /The weight of ".*a\.gguf" is NaN; weights must be finite numbers/,
    );
  });

  it("mixing formats without a conversion", async () => {
    await writeRandomAdapter(join(dir, "a.gguf"), "gguf", q(), { seed: 1 });
    await expectCleanFailure(
      () => mergeAdapterFiles(join(dir, "out"), [{ path: join(dir, "a.gguf"), weight: 1 }]),
      FileFormatError,
      /is a GGUF file but the output is PEFT/,
    );
  });
});
