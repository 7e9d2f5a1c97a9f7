import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { raceWithSignal } from "@langchain/core/runnables";
import type { Embedder, EmbedOptions } from "../../core/embedder.js";
import { AbortError, ConfigError, DimensionMismatchError, ProviderResponseError } from "../../core/errors.js";
import { l2Normalize } from "../../core/vector-math.js";

/** Settings of {@link LangChainEmbedder}. */
export interface LangChainEmbedderOptions {
  /** Any LangChain Embeddings (`@langchain/ollama` OllamaEmbeddings, `@langchain/openai` OpenAIEmbeddings, ...). */
  embeddings: EmbeddingsInterface;
  /**
   * Names the embedder and its settings: centroids are stored per id (`langchain-<id>`), so two
   * models must not share one. @default the class name and its `model` / `modelName`, e.g. `OllamaEmbeddings-nomic-embed-text`
   */
  id?: string;
  /** Texts per embedDocuments call. @default 32 */
  batchSize?: number;
}

/** The part of an Embeddings object that names its model, when it says. */
function modelOf(embeddings: object): string | undefined {
  for (const key of ["model", "modelName", "model_name"]) {
    const value = (embeddings as Record<string, unknown>)[key];
    if (Object.hasOwn(embeddings, key) && typeof value === "string" && value !== "") return value;
  }
  return undefined;
}

function isEmbeddings(value: unknown): value is EmbeddingsInterface {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as EmbeddingsInterface).embedDocuments === "function" &&
    typeof (value as EmbeddingsInterface).embedQuery === "function"
  );
}

/**
 * A Herd embedder over any LangChain `Embeddings`: routing and centroids use its vectors
 * (L2-normalized here). Its centroids live in their own folder, named by its id.
 *
 * @example
 * import { OllamaEmbeddings } from "@langchain/ollama";
 * const herd = await createHerd({
 *   embedder: { name: "langchain", embeddings: new OllamaEmbeddings({ model: "nomic-embed-text" }) },
 * });
 */
export class LangChainEmbedder implements Embedder {
  readonly id: string;
  private readonly embeddings: EmbeddingsInterface;
  private readonly batchSize: number;
  private dim: number | undefined;

  constructor(options: LangChainEmbedderOptions) {
    if (!isEmbeddings(options?.embeddings)) {
      throw new ConfigError(
        'embedder.embeddings must be a LangChain Embeddings object (with embedDocuments and embedQuery); the langchain embedder is set up in code: createHerd({ embedder: { name: "langchain", embeddings } }).',
        "embedder.embeddings",
      );
    }
    this.embeddings = options.embeddings;
    this.batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new ConfigError(
        `embedder.batchSize must be a positive integer, got ${options.batchSize}.`,
        "embedder.batchSize",
      );
    }
    const model = modelOf(options.embeddings);
    const name =
      options.id ?? [options.embeddings.constructor?.name || "Embeddings", model].filter(Boolean).join("-");
    this.id = `langchain-${name.replace(/[^A-Za-z0-9._-]+/g, "_")}`;
  }

  /** Builds one from a config's `embedder` settings (`{ name: "langchain", embeddings, id?, batchSize? }`). */
  static fromSettings(settings: Record<string, unknown>): LangChainEmbedder {
    const known = new Set(["embeddings", "id", "batchSize"]);
    const unknown = Object.keys(settings).find((k) => !known.has(k));
    if (unknown !== undefined) {
      throw new ConfigError(
        `Invalid config: embedder.${unknown}: unknown setting; remove it or check its spelling.`,
        `embedder.${unknown}`,
      );
    }
    if (settings.id !== undefined && (typeof settings.id !== "string" || settings.id === "")) {
      throw new ConfigError("embedder.id must be a non-empty string.", "embedder.id");
    }
    return new LangChainEmbedder(settings as unknown as LangChainEmbedderOptions);
  }

  async dimension(options: EmbedOptions = {}): Promise<number> {
    if (this.dim === undefined) await this.embed(["dimension probe"], options);
    return this.dim!;
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      if (options.signal?.aborted) throw new AbortError();
      const batch = texts.slice(i, i + this.batchSize);
      const vectors = await raceWithSignal(this.embeddings.embedDocuments([...batch]), options.signal).catch(
        (error: unknown) => {
          if (options.signal?.aborted) throw new AbortError();
          throw new ProviderResponseError(
            `The LangChain embeddings ${this.id} failed: ${(error as Error)?.message ?? error}`,
            undefined,
            undefined,
            { cause: error },
          );
        },
      );
      if (!Array.isArray(vectors) || vectors.length !== batch.length) {
        throw new ProviderResponseError(
          `The LangChain embeddings ${this.id} returned ${Array.isArray(vectors) ? vectors.length : "no"} vectors for ${batch.length} texts.`,
        );
      }
      for (const vector of vectors) out.push(this.check(vector));
    }
    return out;
  }

  private check(vector: unknown): Float32Array {
    if (
      !Array.isArray(vector) ||
      vector.length === 0 ||
      !vector.every((x) => typeof x === "number" && Number.isFinite(x))
    ) {
      throw new ProviderResponseError(
        `The LangChain embeddings ${this.id} returned a vector that is not a list of finite numbers.`,
      );
    }
    this.dim ??= vector.length;
    if (vector.length !== this.dim) {
      throw new DimensionMismatchError(
        `The LangChain embeddings ${this.id} returned vectors of ${vector.length} and ${this.dim} numbers; one model gives one length.`,
      );
    }
    return l2Normalize(vector);
  }
}
