import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { demoConfig } from "../../../src/cli/commands/serve-demo.js";
import {
  GgmlType,
  ggufNumber,
  ggufString,
  ggufStringArray,
  readGgufHeader,
  readGgufTensor,
} from "../../../src/providers/gguf/index.js";
import {
  createDemoAssets,
  defaultDemoDir,
  tinyModelConfig,
  writeTinyLora,
  writeTinyModel,
} from "../../../src/providers/llamacpp/index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-tiny-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("tiny llama model", () => {
  it("has every key llama.cpp requires, with u32 integers, and a byte-level GPT-2 vocabulary", async () => {
    const path = join(dir, "m.gguf");
    await writeTinyModel(path);
    const h = await readGgufHeader(path);
    expect(ggufString(h, "general.architecture")).toBe("llama");
    for (const key of [
      "llama.context_length",
      "llama.embedding_length",
      "llama.block_count",
      "llama.feed_forward_length",
      "llama.attention.head_count",
      "tokenizer.ggml.bos_token_id",
      "tokenizer.ggml.eos_token_id",
    ]) {
      expect(h.metadata.get(key)?.type, key).toBe("u32");
    }
    expect(h.metadata.get("llama.attention.layer_norm_rms_epsilon")?.type).toBe("f32");
    expect(ggufString(h, "tokenizer.ggml.model")).toBe("gpt2");
    const tokens = ggufStringArray(h, "tokenizer.ggml.tokens")!;
    expect(tokens).toHaveLength(265);
    expect(tokens[ggufNumber(h, "tokenizer.ggml.eos_token_id")!]).toBe("<|endoftext|>");
    expect(tokens[32]).toBe("Ġ"); // the GPT-2 byte alphabet: a space is Ġ
    expect(ggufStringArray(h, "tokenizer.ggml.merges")!.length).toBeGreaterThan(0);
    expect(h.tensors.every((t) => t.type === GgmlType.F32)).toBe(true);
    expect(h.tensors.find((t) => t.name === "blk.1.ffn_down.weight")?.dims).toEqual([128, 64]);
    expect(h.tensors.find((t) => t.name === "token_embd.weight")?.dims).toEqual([64, 265]);
  });

  it("is reproducible from its seed and differs between seeds", async () => {
    await writeTinyModel(join(dir, "a.gguf"), { seed: 3 });
    await writeTinyModel(join(dir, "b.gguf"), { seed: 3 });
    await writeTinyModel(join(dir, "c.gguf"), { seed: 4 });
    const q = async (f: string) => [
      ...(await readGgufTensor(await readGgufHeader(join(dir, f)), "blk.0.attn_q.weight")),
    ];
    expect(await q("a.gguf")).toEqual(await q("b.gguf"));
    expect(await q("a.gguf")).not.toEqual(await q("c.gguf"));
  });

  it("rejects shapes llama.cpp cannot run", () => {
    expect(() => tinyModelConfig({ embeddingLength: 60, headCount: 8 })).toThrow(/multiple of 2 x headCount/);
  });
});

describe("tiny LoRA adapters", () => {
  it("pair lora_a [n_in, r] with lora_b [r, n_out] for every target of every block", async () => {
    const path = join(dir, "l.gguf");
    await writeTinyLora(path, { headCountKv: 2 }, { seed: "code", rank: 4, alpha: 8 });
    const h = await readGgufHeader(path);
    expect(ggufString(h, "general.type")).toBe("adapter");
    expect(ggufString(h, "adapter.type")).toBe("lora");
    expect(ggufNumber(h, "adapter.lora.alpha")).toBe(8);
    expect(h.tensors).toHaveLength(2 * 7 * 2);
    const dims = (n: string) => h.tensors.find((t) => t.name === n)?.dims;
    expect(dims("blk.0.attn_k.weight.lora_a")).toEqual([64, 4]);
    expect(dims("blk.0.attn_k.weight.lora_b")).toEqual([4, 32]);
    expect(dims("blk.1.ffn_down.weight.lora_a")).toEqual([128, 4]);
    expect(dims("blk.1.ffn_down.weight.lora_b")).toEqual([4, 64]);
  });

  it("differ per expert", async () => {
    await writeTinyLora(join(dir, "a.gguf"), {}, { seed: "code" });
    await writeTinyLora(join(dir, "b.gguf"), {}, { seed: "math" });
    const b = async (f: string) => [
      ...(await readGgufTensor(await readGgufHeader(join(dir, f)), "blk.0.attn_q.weight.lora_b")),
    ];
    expect(await b("a.gguf")).not.toEqual(await b("b.gguf"));
  });
});

describe("createDemoAssets", () => {
  it("writes the model and one adapter per expert, named by content, and reuses them", async () => {
    const first = await createDemoAssets(dir, ["code", "math"]);
    expect(first.modelPath).toMatch(/tiny-llama-[0-9a-f]{12}\.gguf$/);
    expect(first.adapters.code).toMatch(/lora-code-[0-9a-f]{12}\.gguf$/);
    expect(first.adapters.math).not.toBe(first.adapters.code);
    expect(first.chatTemplate).toBeUndefined();
    const mtime = (await stat(first.adapters.code!)).mtimeMs;

    const again = await createDemoAssets(dir, ["code", "math"]);
    expect(again).toEqual(first);
    expect((await stat(first.adapters.code!)).mtimeMs).toBe(mtime);

    const ranked = await createDemoAssets(dir, ["code"], { lora: { rank: 4 } });
    expect(ranked.adapters.code).not.toBe(first.adapters.code); // new content, new path
    expect(ranked.modelPath).toBe(first.modelPath);
    expect((await readdir(dir)).sort()).toHaveLength(4);
  });

  it("rewrites a file whose content does not match its hash, even when the size does", async () => {
    const first = await createDemoAssets(dir, ["code"]);
    const original = await readFile(first.adapters.code!);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1] = tampered.at(-1)! ^ 0xff;
    await writeFile(first.adapters.code!, tampered);
    await createDemoAssets(dir, ["code"]);
    expect(Buffer.from(await readFile(first.adapters.code!)).equals(original)).toBe(true);
  });
});

describe("the demo's folder", () => {
  it("is per user: XDG_CACHE_HOME, else ~/.cache, never the shared temp folder", () => {
    expect(defaultDemoDir({ XDG_CACHE_HOME: "/x/cache", HOME: "/home/u" })).toBe(
      join("/x/cache", "herd", "demo"),
    );
    expect(defaultDemoDir({ XDG_CACHE_HOME: "relative", HOME: "/home/u" })).toBe(
      join("/home/u", ".cache", "herd", "demo"),
    );
    expect(defaultDemoDir({ HOME: "/home/u" })).toBe(join("/home/u", ".cache", "herd", "demo"));
  });

  it("is where herd serve --demo writes its model and adapters", async () => {
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = dir;
    try {
      const config = await demoConfig({});
      const provider = config.provider as { modelPath: string };
      expect(provider.modelPath.startsWith(join(dir, "herd", "demo"))).toBe(true);
      expect(((await stat(join(dir, "herd", "demo"))).mode & 0o777).toString(8)).toBe("700");
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });
});
