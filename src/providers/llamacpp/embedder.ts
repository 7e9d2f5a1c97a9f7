import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, resolve } from "node:path";
import type { Llama, LlamaEmbeddingContext, LlamaModel } from "node-llama-cpp";
import type { Embedder, EmbedOptions } from "../../core/embedder.js";
import { AbortError, FileFormatError } from "../../core/errors.js";
import { defaultThreads, loadNodeLlamaCpp } from "./load-node-llama-cpp.js";

/** Settings of {@link LlamaCppEmbedder}. */
export interface LlamaCppEmbedderOptions {
  /** A GGUF embedding model (any GGUF model works; an embedding model works well). */
  modelPath: string;
  /** Threads of the embedding context. @default 1 on machines with up to 2 cores, else cores - 1 */
  threads?: number;
  /** Context size in tokens; longer texts are cut to it. @default the model's training context, at most 2048 */
  contextSize?: number;
  /** A node-llama-cpp `Llama` to share (e.g. with the chat provider); not disposed by `close()`. */
  llama?: Llama;
  /** Overrides the id under which centroids are stored. @default `llamacpp-<file name>-<hash8>` */
  id?: string;
}

interface Loaded {
  llama: Llama;
  model: LlamaModel;
  context: LlamaEmbeddingContext;
  contextSize: number;
}

/** Bytes of the file hashed into the id (head and tail), so the id changes when the file does. */
const ID_SAMPLE_BYTES = 1 << 20;

/**
 * Embeds texts in process with a GGUF model through node-llama-cpp (an optional peer), returning
 * L2-normalized vectors. Texts are embedded one at a time on one context.
 * @example
 * const embedder = new LlamaCppEmbedder({ modelPath: "nomic-embed-text-v1.5.Q8_0.gguf" });
 * const [vector] = await embedder.embed(["How do I sort a list?"]);
 * await embedder.close();
 */
export class LlamaCppEmbedder implements Embedder {
  /** `llamacpp-<file name>-<hash8>`, the hash covering the file's size, head and tail. */
  readonly id: string;
  private readonly modelPath: string;
  private loaded: Promise<Loaded> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  /** Reads 2 MB of the model file to compute the id. @throws FileFormatError when the file is missing */
  constructor(private readonly options: LlamaCppEmbedderOptions) {
    this.modelPath = resolve(options.modelPath);
    this.id =
      options.id ??
      `llamacpp-${basename(this.modelPath).replace(/\.gguf$/i, "")}-${fileHash8(this.modelPath)}`;
  }

  async dimension(options: EmbedOptions = {}): Promise<number> {
    const { model } = await this.load();
    if (options.signal?.aborted) throw new AbortError();
    return model.embeddingVectorSize;
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    const run = this.queue.then(() => this.embedNow(texts, options.signal));
    this.queue = run.catch(() => {});
    return run;
  }

  /** Disposes the context, the model and (when this embedder created it) the llama runtime. */
  async close(): Promise<void> {
    const loaded = await this.loaded?.catch(() => undefined);
    this.loaded = undefined;
    if (!loaded) return;
    await loaded.context.dispose();
    await loaded.model.dispose();
    if (!this.options.llama) await loaded.llama.dispose();
  }

  private async embedNow(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const { model, context, contextSize } = await this.load();
    const vectors: Float32Array[] = [];
    for (const text of texts) {
      if (signal?.aborted) throw new AbortError("The embedding was aborted.");
      // Room for the BOS/EOS tokens llama.cpp adds; the input must stay shorter than the context.
      let tokens = model.tokenize(text).slice(0, contextSize - 3);
      if (tokens.length === 0 && model.tokens.bos !== null) tokens = [model.tokens.bos];
      const { vector } = await context.getEmbeddingFor(tokens);
      vectors.push(normalize(vector));
    }
    return vectors;
  }

  private load(): Promise<Loaded> {
    if (!this.loaded) {
      this.loaded = this.loadNow();
      this.loaded.catch(() => {
        this.loaded = undefined;
      });
    }
    return this.loaded;
  }

  private async loadNow(): Promise<Loaded> {
    const lib = await loadNodeLlamaCpp("The llamacpp embedder");
    const threads = this.options.threads ?? defaultThreads(availableParallelism());
    const llama =
      this.options.llama ?? (await lib.getLlama({ gpu: false, build: "never", maxThreads: threads }));
    try {
      const model = await llama.loadModel({ modelPath: this.modelPath }).catch((error: unknown) => {
        throw new FileFormatError(
          `llama.cpp could not load the embedding model "${this.modelPath}": ${(error as Error).message}`,
          this.modelPath,
          { cause: error },
        );
      });
      const contextSize = this.options.contextSize ?? Math.min(model.trainContextSize, 2048);
      const context = await model.createEmbeddingContext({ contextSize, threads });
      return { llama, model, context, contextSize };
    } catch (error) {
      if (!this.options.llama) await llama.dispose();
      throw error;
    }
  }
}

/** Scales a vector to unit length (a zero vector stays zero). */
function normalize(vector: readonly number[]): Float32Array {
  let sum = 0;
  for (const v of vector) sum += v * v;
  const norm = Math.sqrt(sum);
  const out = Float32Array.from(vector);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] = out[i]! / norm;
  return out;
}

/** A short hash of the file's size, first and last megabyte. */
function fileHash8(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new FileFormatError(
      `Embedding model "${path}" does not exist or cannot be read. Check modelPath.`,
      path,
      {
        cause: error,
      },
    );
  }
  try {
    const size = fstatSync(fd).size;
    const hash = createHash("sha256").update(String(size));
    const buffer = Buffer.alloc(Math.min(size, ID_SAMPLE_BYTES));
    for (const position of new Set([0, Math.max(0, size - buffer.length)])) {
      const read = readSync(fd, buffer, 0, buffer.length, position);
      hash.update(buffer.subarray(0, read));
    }
    return hash.digest("hex").slice(0, 8);
  } finally {
    closeSync(fd);
  }
}
