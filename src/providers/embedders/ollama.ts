import type { EmbedRequest, EmbedResponse } from "ollama";
import type { Embedder, EmbedOptions } from "../../core/embedder.js";
import { DimensionMismatchError, ProviderResponseError } from "../../core/errors.js";
import type { BackendTimeouts } from "../../core/timeouts.js";
import { l2Normalize } from "../../core/vector-math.js";
import { type BackendResponse, backendRequest } from "../http/backend-request.js";
import { ollamaBaseUrl } from "../http/ollama-base-url.js";
import { embeddingsReplyLimit } from "../http/reply-limits.js";

/** Settings of the Ollama embedder. */
export interface OllamaEmbedderOptions {
  /** The embedding model, e.g. `nomic-embed-text`, `all-minilm`, `mxbai-embed-large`. @default env OLLAMA_EMBED_MODEL, then "nomic-embed-text" */
  model?: string;
  /** The Ollama server. @default env OLLAMA_HOST, then "http://127.0.0.1:11434" */
  baseUrl?: string;
  /** Texts per /api/embed call. @default 32 */
  batchSize?: number;
  /** Let Ollama truncate inputs longer than the model's context. @default true */
  truncate?: boolean;
  /** How long Ollama keeps the model loaded, e.g. "5m". @default Ollama's default */
  keepAlive?: string | number;
  /** A fetch to use instead of Herd's http.request client (tests, proxies). @default none */
  fetch?: typeof fetch;
  /** Limits of every call to Ollama (config `timeouts`). @default DEFAULT_TIMEOUTS */
  timeouts?: Partial<BackendTimeouts>;
}

/**
 * Embeds with an Ollama server (POST /api/embed). Vectors are L2-normalized.
 *
 * @example
 * const embedder = new OllamaEmbedder({ model: "nomic-embed-text" });
 * const [v] = await embedder.embed(["hello"]);
 */
export class OllamaEmbedder implements Embedder {
  readonly id: string;
  readonly model: string;
  readonly baseUrl: string;
  private readonly options: OllamaEmbedderOptions;
  private dim: number | undefined;

  constructor(options: OllamaEmbedderOptions = {}) {
    this.options = options;
    this.model = options.model ?? process.env.OLLAMA_EMBED_MODEL ?? "nomic-embed-text";
    this.baseUrl = ollamaBaseUrl(options.baseUrl);
    this.id = `ollama-${this.model.replace(/:latest$/, "")}`;
  }

  async dimension(options: EmbedOptions = {}): Promise<number> {
    if (this.dim === undefined) await this.embed(["dimension probe"], options);
    return this.dim!;
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    const batchSize = this.options.batchSize ?? 32;
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += batchSize) {
      const batch = texts.slice(i, i + batchSize);
      const vectors = await this.call(batch, options.signal);
      out.push(...vectors);
    }
    return out;
  }

  private async call(input: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const body: EmbedRequest = {
      model: this.model,
      input: [...input],
      truncate: this.options.truncate ?? true,
    };
    if (this.options.keepAlive !== undefined) body.keep_alive = this.options.keepAlive;
    let response: BackendResponse;
    try {
      response = await backendRequest(
        {
          service: "Ollama",
          baseUrl: this.baseUrl,
          unreachableHint:
            "Start it with `ollama serve`, pass --ollama-url, or use --embedder hashing (offline).",
          fetch: this.options.fetch,
          timeouts: this.options.timeouts,
        },
        "api/embed",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
          signal,
        },
      );
    } catch (error) {
      if (error instanceof ProviderResponseError && error.providerStatus === 404) {
        throw new ProviderResponseError(
          `Ollama at ${this.baseUrl} has no model "${this.model}". Pull it with \`ollama pull ${this.model}\` or choose another embedding model.`,
          404,
          this.baseUrl,
          { cause: error },
        );
      }
      throw error;
    }
    // Typed by the official client, read defensively: the server is outside our control.
    const data = (await response.json(embeddingsReplyLimit(input.length))) as Partial<EmbedResponse>;
    if (!Array.isArray(data.embeddings) || data.embeddings.length !== input.length) {
      throw new ProviderResponseError(
        `Ollama at ${this.baseUrl} returned ${Array.isArray(data.embeddings) ? data.embeddings.length : "no"} embeddings for ${input.length} inputs; is "${this.model}" an embedding model?`,
        response.status,
        this.baseUrl,
      );
    }
    return (data.embeddings as number[][]).map((e) => {
      const v = l2Normalize(e);
      this.dim ??= v.length;
      if (v.length !== this.dim) {
        throw new DimensionMismatchError(
          `Ollama model ${this.model} returned vectors of ${v.length} and ${this.dim} dimensions.`,
        );
      }
      return v;
    });
  }
}
