import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileFormatError } from "../../../src/core/errors.js";
import { convertAdapter, convertModuleName, permuteHeads } from "../../../src/providers/adapters/convert.js";
import { mergeAdapterFiles } from "../../../src/providers/adapters/merge.js";
import { openAdapter } from "../../../src/providers/adapters/open-adapter.js";
import { gguf, readGgufHeader } from "../../../src/providers/gguf/index.js";
import { writeTinyLora, writeTinyModel } from "../../../src/providers/llamacpp/tiny-model.js";
import { moduleDelta, relativeError } from "./random-adapters.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-convert-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("PEFT <-> GGUF naming and layout", () => {
  it("maps module paths to tensor names and back", () => {
    expect(convertModuleName("model.layers.12.self_attn.o_proj", "gguf")).toBe("blk.12.attn_output.weight");
    expect(convertModuleName("blk.3.ffn_down.weight", "peft")).toBe("model.layers.3.mlp.down_proj");
    expect(convertModuleName("model.layers.0.mlp.experts.0.w1", "gguf")).toBeUndefined();
  });

  it("interleaves the rotary halves of each head as llama.cpp's converter does", () => {
    // One head of dim 4, rank 1: HF rows [0, 1, 2, 3] are llama.cpp rows [0, 2, 1, 3].
    expect([...permuteHeads(new Float32Array([0, 1, 2, 3]), 1, 1, "gguf")]).toEqual([0, 2, 1, 3]);
    const b = Float32Array.from({ length: 2 * 8 * 3 }, (_, i) => i);
    expect(permuteHeads(permuteHeads(b, 3, 2, "gguf"), 3, 2, "peft")).toEqual(b);
  });
});

describe("merging across formats with --base", () => {
  it("converts GGUF to PEFT and back without changing any delta, permuting only q and k", async () => {
    const model = join(dir, "tiny.gguf");
    const lora = join(dir, "lora.gguf");
    await writeTinyModel(model);
    await writeTinyLora(
      lora,
      {},
      { seed: "x", rank: 4, alpha: 8, targets: ["attn_q", "attn_k", "attn_v", "ffn_down"] },
    );
    await mergeAdapterFiles(join(dir, "peft"), [{ path: lora, weight: 1 }], { baseModel: model });
    await mergeAdapterFiles(join(dir, "back.gguf"), [{ path: join(dir, "peft"), weight: 1 }], {
      baseModel: model,
    });

    const config = JSON.parse(await readFile(join(dir, "peft", "adapter_config.json"), "utf8"));
    expect(config.target_modules).toEqual(["down_proj", "k_proj", "q_proj", "v_proj"]);
    const [original, peft, back] = await Promise.all(
      [lora, join(dir, "peft"), join(dir, "back.gguf")].map(openAdapter),
    );
    try {
      for (const m of original!.modules) {
        expect(
          relativeError(await moduleDelta(back!, m.name), await moduleDelta(original!, m.name)),
        ).toBeLessThan(1e-6);
      }
      // v is not permuted: same delta under both names; q is (4 heads of 16).
      const v = await moduleDelta(original!, "blk.0.attn_v.weight");
      expect(relativeError(await moduleDelta(peft!, "model.layers.0.self_attn.v_proj"), v)).toBeLessThan(
        1e-6,
      );
      const qGguf = await moduleDelta(original!, "blk.0.attn_q.weight");
      const qPeft = await moduleDelta(peft!, "model.layers.0.self_attn.q_proj");
      expect(relativeError(qPeft, qGguf)).toBeGreaterThan(0.1);
      const inF = 64;
      // HF row (head 1, half 1, i 3) is llama.cpp row (head 1, i 3, half 1).
      const hfRow = 16 + 8 + 3;
      const ggufRow = 16 + 3 * 2 + 1;
      expect(qPeft.subarray(hfRow * inF, (hfRow + 1) * inF)).toEqual(
        qGguf.subarray(ggufRow * inF, (ggufRow + 1) * inF),
      );
    } finally {
      await Promise.all([original!.close(), peft!.close(), back!.close()]);
    }
  });

  it("without a base model, explains how to convert", async () => {
    const lora = join(dir, "lora.gguf");
    await writeTinyLora(lora, {}, { seed: "x" });
    await expect(mergeAdapterFiles(join(dir, "peft"), [{ path: lora, weight: 1 }])).rejects.toThrow(
      /is a GGUF file but the output is PEFT: pass the GGUF base model \(--base\)/,
    );
  });

  it("refuses an architecture whose names it does not know", async () => {
    const lora = join(dir, "lora.gguf");
    const model = join(dir, "tiny.gguf");
    await writeTinyModel(model);
    await writeTinyLora(lora, {}, { seed: "x" });
    const peft = join(dir, "peft");
    await mergeAdapterFiles(peft, [{ path: lora, weight: 1 }], { baseModel: model });
    const header = await readGgufHeader(model);
    header.metadata.set("general.architecture", gguf.string("phi3"));
    const adapter = await openAdapter(peft);
    expect(() => convertAdapter(adapter, "gguf", header)).toThrow(FileFormatError);
    expect(() => convertAdapter(adapter, "gguf", header)).toThrow(
      /knows the tensor names of llama, qwen2, qwen3, not "phi3"/,
    );
    await adapter.close();
  });
});
