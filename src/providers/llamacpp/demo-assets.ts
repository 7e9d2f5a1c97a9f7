import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
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
 * name. Idempotent: files already present with exactly the expected content (SHA-256) are reused,
 * others rewritten. Writing everything takes well under a second.
 * @example
 * const { modelPath, adapters } = await createDemoAssets(".herd/demo", ["code", "math"]);
 */
export async function createDemoAssets(
  dir: string,
  expertNames: readonly string[],
  options: DemoAssetsOptions = {},
): Promise<DemoAssets> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
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

/**
 * The per-user folder the demo keeps its files in: `$XDG_CACHE_HOME/herd/demo`, else
 * `~/.cache/herd/demo` (`%LOCALAPPDATA%\herd\demo` on Windows). Not a shared temp folder, where
 * another user could place files under the names Herd would load.
 */
export function defaultDemoDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "herd", "demo");
  if (process.platform === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "herd", "demo");
  return join(env.HOME || homedir(), ".cache", "herd", "demo");
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Writes `bytes` under a name with their hash, unless a file with exactly that content is there. */
async function writeByHash(dir: string, prefix: string, bytes: Uint8Array): Promise<string> {
  const hash = sha256(bytes);
  const path = join(dir, `${prefix}-${hash.slice(0, 12)}.gguf`);
  const existing = await readFile(path).catch(() => undefined);
  // The whole hash, not the size: a damaged or replaced file of the same length is rewritten.
  if (!existing || sha256(existing) !== hash) await writeFileAtomic(path, bytes);
  return path;
}
