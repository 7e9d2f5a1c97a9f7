import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Transform } from "node:stream";
import { ProviderResponseError } from "../../core/errors.js";
import type { BackendTimeouts } from "../../core/timeouts.js";
import { type BackendInfo, type BackendResponse, backendRequest } from "../http/backend-request.js";
import { parseNdjson } from "../http/ndjson.js";
import { ollamaBaseUrl } from "../http/ollama-base-url.js";

/** Settings of {@link OllamaCreateClient}. */
export interface OllamaCreateClientOptions {
  /** The Ollama server. @default env OLLAMA_HOST, then "http://127.0.0.1:11434" */
  baseUrl?: string;
  /** A fetch to use instead of Herd's http.request client (tests, proxies). @default none */
  fetch?: typeof fetch;
  /** Limits of every call to Ollama (config `timeouts`); the create stream's progress lines count as activity. @default DEFAULT_TIMEOUTS */
  timeouts?: Partial<BackendTimeouts>;
}

/** The JSON form of POST /api/create (Ollama 0.5.5 and later). */
export interface CreateModelRequest {
  model: string;
  /** An existing model to build on (pulled when missing). */
  from?: string;
  /** Base model blobs, `{ "model.gguf": "sha256:<hex>" }`, instead of `from`. */
  files?: Record<string, string>;
  /** One LoRA: `{ "x.gguf": digest }` or `{ "adapter_config.json": d1, "adapter_model.safetensors": d2 }`. */
  adapters?: Record<string, string>;
  template?: string;
  system?: string;
  parameters?: Record<string, unknown>;
}

/** One status line of a create stream, or upload progress. */
export interface CreateProgress {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
}

/**
 * The part of the Ollama API that builds models: blobs (HEAD/POST /api/blobs/:digest), the
 * streamed POST /api/create, and GET /api/tags. Errors come from the one provider fetch wrapper:
 * an unreachable server is a ProviderUnavailableError naming the URL and how to start Ollama.
 *
 * @example
 * const client = new OllamaCreateClient({ baseUrl: "http://127.0.0.1:11434" });
 * await client.ensureBlob("sha256:...", "adapters/code.gguf");
 * await client.createModel({ model: "herd-code", from: "llama3.2:3b", adapters: { "code.gguf": "sha256:..." } });
 */
export class OllamaCreateClient {
  readonly baseUrl: string;
  private readonly backend: BackendInfo;

  constructor(options: OllamaCreateClientOptions = {}) {
    this.baseUrl = ollamaBaseUrl(options.baseUrl);
    this.backend = {
      service: "Ollama",
      baseUrl: this.baseUrl,
      unreachableHint:
        "Start it with `ollama serve`, or pass --ollama-url (or set OLLAMA_HOST) to reach another server.",
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    };
  }

  /** True when the server already holds the blob (HEAD /api/blobs/:digest answers 200). */
  async hasBlob(digest: string): Promise<boolean> {
    try {
      (await backendRequest(this.backend, `api/blobs/${digest}`, { method: "HEAD" })).close();
      return true;
    } catch (error) {
      if (ProviderResponseError.isInstance(error) && (error as ProviderResponseError).providerStatus === 404)
        return false;
      throw error;
    }
  }

  /** Uploads a file as the blob `digest`, streaming it; reports bytes sent. */
  async uploadBlob(digest: string, path: string, onProgress?: (p: CreateProgress) => void): Promise<void> {
    const total = (await stat(path)).size;
    let completed = 0;
    const counted = createReadStream(path).pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          completed += chunk.byteLength;
          onProgress?.({ status: `uploading ${digest.slice(0, 19)}`, digest, total, completed });
          done(null, chunk);
        },
      }),
    );
    const response = await backendRequest(this.backend, `api/blobs/${digest}`, {
      method: "POST",
      body: counted,
      headers: { "content-type": "application/octet-stream", "content-length": String(total) },
    });
    await response.text();
  }

  /** Uploads the file unless the server has it; returns true when it was uploaded. */
  async ensureBlob(digest: string, path: string, onProgress?: (p: CreateProgress) => void): Promise<boolean> {
    if (await this.hasBlob(digest)) return false;
    await this.uploadBlob(digest, path, onProgress);
    return true;
  }

  /**
   * Creates a model, reporting each streamed status line. Resolves on `{"status":"success"}`.
   * @throws ProviderResponseError for a 4xx/5xx before the stream, an `{"error":...}` line in it,
   *   or a stream that ends without success
   */
  async createModel(
    request: CreateModelRequest,
    onProgress?: (p: CreateProgress) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    let response: BackendResponse;
    try {
      response = await backendRequest(this.backend, "api/create", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...request, stream: true }),
        signal,
      });
    } catch (error) {
      if (!ProviderResponseError.isInstance(error)) throw error;
      const e = error as ProviderResponseError;
      throw new ProviderResponseError(
        `Cannot create "${request.model}": ${e.message}`,
        e.providerStatus,
        e.url,
        { cause: e },
      );
    }
    for await (const line of parseNdjson(response.body)) {
      const event = line as CreateProgress & { error?: unknown };
      if (event.error !== undefined) throw this.failure(request.model, String(event.error));
      if (typeof event.status !== "string") continue;
      onProgress?.(event);
      if (event.status === "success") return;
    }
    throw this.failure(request.model, 'the stream ended without {"status":"success"}');
  }

  /** The names of the models on the server, always with a tag (`herd-code:latest`). */
  async listModels(): Promise<Set<string>> {
    const response = await backendRequest(this.backend, "api/tags");
    const data = (await response.json()) as { models?: { name?: string; model?: string }[] } | null;
    return new Set((data?.models ?? []).map((m) => withTag(m.name ?? m.model ?? "")));
  }

  private failure(model: string, problem: string): ProviderResponseError {
    return new ProviderResponseError(
      `Ollama at ${this.baseUrl} failed to create "${model}": ${problem}`,
      undefined,
      this.baseUrl,
    );
  }
}

/** `name` with `:latest` added when it has no tag. */
export function withTag(name: string): string {
  const slash = name.lastIndexOf("/");
  return name.slice(slash + 1).includes(":") ? name : `${name}:latest`;
}
