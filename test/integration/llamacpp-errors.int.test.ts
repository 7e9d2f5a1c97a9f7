import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileFormatError } from "../../src/core/errors.js";
import { gguf, readGgufHeader, writeGguf } from "../../src/providers/gguf/index.js";
import {
  createDemoAssets,
  type DemoAssets,
  LlamaCppChatProvider,
  tinyLoraGguf,
  writeTinyLora,
} from "../../src/providers/llamacpp/index.js";

/** Bad files fail with a FileFormatError naming the file, before llama.cpp's generic message. */

let dir: string;
let assets: DemoAssets;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-llamacpp-errors-"));
  assets = await createDemoAssets(dir, ["code"]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function failure(adapterPath: string, modelPath = assets.modelPath): Promise<FileFormatError> {
  const provider = new LlamaCppChatProvider({
    modelPath,
    adapters: { code: assets.adapters.code!, bad: adapterPath },
    threads: 1,
  });
  try {
    const stream = provider.stream({
      target: { model: "code", base: false, adapters: [{ expert: "code", scale: 1 }] },
      messages: [{ role: "user", content: "hi" }],
      params: { maxTokens: 2 },
    });
    const error = await (async () => {
      for await (const _ of stream) {
        // drain
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileFormatError);
    return error as FileFormatError;
  } finally {
    await provider.close();
  }
}

describe("llamacpp provider file errors", () => {
  it("reports every broken expert adapter at once, by expert, with the fix", async () => {
    const provider = new LlamaCppChatProvider({
      modelPath: assets.modelPath,
      adapters: {
        code: assets.adapters.code!,
        qa: join(dir, "missing-qa.gguf"),
        general: join(dir, "missing-general.gguf"),
      },
      threads: 1,
    });
    try {
      const error = await provider.health().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FileFormatError);
      const message = (error as Error).message;
      expect(message).toMatch(/^2 of 3 expert adapters cannot be used with /);
      expect(message).toMatch(/expert "qa": GGUF file "[^"]*missing-qa\.gguf" does not exist/);
      expect(message).toMatch(/expert "general": GGUF file "[^"]*missing-general\.gguf" does not exist/);
      expect(message).toMatch(/Fix each expert's "adapter" in experts\.json/);
      expect(message).not.toMatch(/\n/);
    } finally {
      await provider.close();
    }
  });

  it("a corrupt adapter (not GGUF) names the file", async () => {
    const path = join(dir, "corrupt.gguf");
    await writeFile(path, "this is not a gguf file at all");
    const error = await failure(path);
    expect(error.file).toBe(path);
    expect(error.message).toMatch(/corrupt\.gguf" is not a GGUF file/);
  });

  it("a truncated adapter names the file", async () => {
    const path = join(dir, "truncated.gguf");
    const bytes = await readFile(assets.adapters.code!);
    await writeFile(path, bytes.subarray(0, bytes.length - 100));
    expect((await failure(path)).message).toMatch(/truncated\.gguf" is truncated/);
  });

  it("an adapter for another architecture names the file and both architectures", async () => {
    const path = join(dir, "qwen-lora.gguf");
    const input = tinyLoraGguf({}, { seed: "x" });
    const metadata = [...(input.metadata as Iterable<[string, ReturnType<typeof gguf.string>]>)].map(
      ([k, v]): [string, typeof v] => [k, k === "general.architecture" ? gguf.string("qwen2") : v],
    );
    await writeGguf(path, { ...input, metadata });
    const error = await failure(path);
    expect(error.file).toBe(path);
    expect(error.message).toMatch(/qwen-lora\.gguf" is for architecture "qwen2" but the model .* is "llama"/);
  });

  it("an adapter with mismatched shapes names the file and the tensor", async () => {
    const path = join(dir, "small-lora.gguf");
    await writeTinyLora(path, { embeddingLength: 32 }, { seed: "x" });
    expect((await failure(path)).message).toMatch(
      /small-lora\.gguf" has mismatched shapes for "blk\.0\.attn_q\.weight": lora_a \[32,8\]/,
    );
  });

  it("a model file passed as an adapter says it is not an adapter", async () => {
    expect((await failure(assets.modelPath)).message).toMatch(/is not an adapter \(general\.type is missing/);
  });

  it("a missing model file names the path", async () => {
    const path = join(dir, "missing-model.gguf");
    const provider = new LlamaCppChatProvider({ modelPath: path, threads: 1 });
    await expect(provider.health()).rejects.toThrow(new RegExp(`Model file "${path}" does not exist`));
    await provider.close();
  });

  it("an adapter passed as the model says so", async () => {
    const provider = new LlamaCppChatProvider({ modelPath: assets.adapters.code!, threads: 1 });
    await expect(provider.health()).rejects.toThrow(/is a LoRA adapter, not a model/);
    await provider.close();
  });

  it("a model without the keys llama.cpp needs is refused before llama.cpp could abort the process", async () => {
    const path = join(dir, "empty-model.gguf");
    await writeGguf(path, { metadata: { "general.architecture": gguf.string("llama") }, tensors: [] });
    const provider = new LlamaCppChatProvider({ modelPath: path, threads: 1 });
    await expect(provider.health()).rejects.toThrow(
      /empty-model\.gguf" lacks metadata llama\.context_length, .*llama\.feed_forward_length, llama\.attention\.head_count/,
    );
    await provider.close();
  });

  it("a model llama.cpp cannot load is reported with its path", async () => {
    const path = join(dir, "no-tensors.gguf");
    const header = await readGgufHeader(assets.modelPath);
    await writeGguf(path, { metadata: header.metadata, tensors: [] });
    const provider = new LlamaCppChatProvider({ modelPath: path, threads: 1 });
    await expect(provider.health()).rejects.toThrow(
      /llama\.cpp could not load the model ".*no-tensors\.gguf"/,
    );
    await provider.close();
  });
});
