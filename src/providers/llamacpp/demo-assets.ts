import { createHash } from "node:crypto";
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { encodeGguf, writeFileAtomic } from "../gguf/index.js";
import { type TinyLoraOptions, type TinyModelOptions, tinyLoraGguf, tinyModelGguf } from "./tiny-model.js";

/** The files of the offline demo. */
export interface DemoAssets {
  /** The tiny llama model. */
  modelPath: string;
  /** Expert name to its GGUF LoRA adapter. */
  adapters: Record<string, string>;
  /** A chat template to use; absent because the tiny model has none (the provider's default applies). */
  chatTemplate?: string;
}

/** Settings of {@link createDemoAssets}. */
export interface DemoAssetsOptions {
  /** The model's shape and seed. @default the tiny model defaults */
  model?: TinyModelOptions;
  /** Adapter settings shared by every expert (each expert's seed is its name). */
  lora?: Omit<TinyLoraOptions, "seed">;
  /** Called after each file (the model, then each adapter) with the files done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Writes (or reuses) a tiny llama model and one LoRA adapter per expert in `dir`, each named by a
 * hash of its content: llama.cpp caches adapters by path, so a changed adapter must get a new
 * name. Idempotent: files already present are reused. Writing everything takes well under a second.
 * @example
 * const { modelPath, adapters } = await createDemoAssets(".herd/demo", ["code", "math"]);
 */
export async function createDemoAssets(
  dir: string,
  expertNames: readonly string[],
  options: DemoAssetsOptions = {},
): Promise<DemoAssets> {
  await mkdir(dir, { recursive: true });
  const model = options.model ?? {};
  const total = expertNames.length + 1;
  const modelPath = await writeByHash(dir, "tiny-llama", encodeGguf(tinyModelGguf(model)));
  options.onProgress?.(1, total);
  const adapters: Record<string, string> = {};
  for (const [i, expert] of expertNames.entries()) {
    const bytes = encodeGguf(tinyLoraGguf(model, { ...options.lora, seed: expert }));
    adapters[expert] = await writeByHash(dir, `lora-${expert.replace(/[^\w-]/g, "_")}`, bytes);
    options.onProgress?.(i + 2, total);
  }
  return { modelPath, adapters };
}

async function writeByHash(dir: string, prefix: string, bytes: Uint8Array): Promise<string> {
  const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 12);
  const path = join(dir, `${prefix}-${hash}.gguf`);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.size !== bytes.byteLength) await writeFileAtomic(path, bytes);
  return path;
}
