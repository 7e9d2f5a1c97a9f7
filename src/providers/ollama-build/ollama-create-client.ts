import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import type { CreateRequest, Ollama, ProgressResponse, ShowResponse } from "ollama";
import { errorMessage, HerdError, ProviderResponseError } from "../../core/errors.js";
import { ollamaBaseUrl } from "../http/ollama-base-url.js";
import { type BackendInfo, providerFetch } from "../http/provider-fetch.js";

/** Settings of {@link OllamaCreateClient}. */
export interface OllamaCreateClientOptions {
  /** The Ollama server. @default env OLLAMA_HOST, then "http://127.0.0.1:11434" */
  baseUrl?: string;
  /** A fetch to use instead of Herd's http.request client (tests, proxies). @default none */
  fetch?: typeof fetch;
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
 * The part of the Ollama API that builds models. List, show, create (with streamed progress) and
 * pull go through the official `ollama` client; blob upload (HEAD/POST /api/blobs/:digest), which
 * that client does not offer, is sent directly. Every request goes through the one provider fetch
 * wrapper (the client is given it as its `fetch`): an unreachable server is a
 * ProviderUnavailableError naming the URL and how to start Ollama, a refusal a ProviderResponseError.
 *
 * @example
 * const client = new OllamaCreateClient({ baseUrl: "http://127.0.0.1:11434" });
 * await client.ensureBlob("sha256:...", "adapters/code.gguf");
 * await client.createModel({ model: "herd-code", from: "llama3.2:3b", adapters: { "code.gguf": "sha256:..." } });
 */
export class OllamaCreateClient {
  readonly baseUrl: string;
  private readonly backend: BackendInfo;
  private client: Promise<Ollama> | undefined;

  constructor(options: OllamaCreateClientOptions = {}) {
    this.baseUrl = ollamaBaseUrl(options.baseUrl);
    this.backend = {
      service: "Ollama",
      baseUrl: this.baseUrl,
      unreachableHint:
        "Start it with `ollama serve`, or pass --ollama-url (or set OLLAMA_HOST) to reach another server.",
      ...(options.fetch ? { fetch: options.fetch } : {}),
    };
  }

  /** True when the server already holds the blob (HEAD /api/blobs/:digest answers 200). */
  async hasBlob(digest: string): Promise<boolean> {
    try {
      await providerFetch(this.backend, `api/blobs/${digest}`, { method: "HEAD" });
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
    const counted = Readable.toWeb(createReadStream(path)).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          completed += chunk.byteLength;
          onProgress?.({ status: `uploading ${digest.slice(0, 19)}`, digest, total, completed });
          controller.enqueue(chunk);
        },
      }),
    );
    await providerFetch(this.backend, `api/blobs/${digest}`, {
      method: "POST",
      body: counted as unknown as RequestInit["body"],
      headers: { "content-type": "application/octet-stream", "content-length": String(total) },
      duplex: "half",
    } as RequestInit);
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
    const ollama = await this.official();
    signal?.throwIfAborted();
    let stream: AsyncIterable<ProgressResponse> & { abort(): void };
    try {
      // `files` (a GGUF base by digest) is part of the API; the client's type does not list it yet.
      stream = await ollama.create({ ...(request as CreateRequest), stream: true });
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
    await this.follow(stream, request.model, "create", onProgress, signal);
  }

  /** Pulls a model (e.g. the base named in `from`), reporting progress. Resolves on success. */
  async pull(model: string, onProgress?: (p: CreateProgress) => void, signal?: AbortSignal): Promise<void> {
    const ollama = await this.official();
    signal?.throwIfAborted();
    const stream = await ollama.pull({ model, stream: true });
    await this.follow(stream, model, "pull", onProgress, signal);
  }

  /** The model's details (Modelfile, parameters, capabilities); undefined when Ollama does not have it. */
  async show(model: string): Promise<ShowResponse | undefined> {
    const ollama = await this.official();
    try {
      return await ollama.show({ model });
    } catch (error) {
      if (ProviderResponseError.isInstance(error) && (error as ProviderResponseError).providerStatus === 404)
        return undefined;
      throw error;
    }
  }

  /** The names of the models on the server, always with a tag (`herd-code:latest`). */
  async listModels(): Promise<Set<string>> {
    const ollama = await this.official();
    const data = await ollama.list();
    return new Set((data.models ?? []).map((m) => withTag(m.name ?? m.model ?? "")));
  }

  /** Reads a create or pull progress stream to its `success` line; an abort stops the request. */
  private async follow(
    stream: AsyncIterable<ProgressResponse> & { abort(): void },
    model: string,
    action: "create" | "pull",
    onProgress?: (p: CreateProgress) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const onAbort = () => stream.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const event of stream) {
        if (typeof event.status !== "string") continue;
        onProgress?.(progressOf(event));
        if (event.status === "success") return;
      }
    } catch (error) {
      signal?.throwIfAborted();
      if (HerdError.isInstance(error)) throw error;
      // The client turns an `{"error": ...}` line (and a stream without success) into a plain Error.
      throw this.failure(model, errorMessage(error), action);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    throw this.failure(model, 'the stream ended without {"status":"success"}', action);
  }

  /**
   * The official client, loaded on first use (management only: the chat hot path keeps the lean
   * keep-alive client). Its requests go through providerFetch, so errors and timeouts are Herd's.
   */
  private official(): Promise<Ollama> {
    this.client ??= import("ollama").then(
      ({ Ollama }) =>
        new Ollama({
          host: this.baseUrl,
          // An absolute URL resolves to itself in providerFetch.
          fetch: ((input: string | URL | Request, init?: RequestInit) =>
            providerFetch(this.backend, input instanceof Request ? input.url : String(input), {
              ...init,
            })) as typeof fetch,
        }),
    );
    return this.client;
  }

  private failure(
    model: string,
    problem: string,
    action: "create" | "pull" = "create",
  ): ProviderResponseError {
    return new ProviderResponseError(
      `Ollama at ${this.baseUrl} failed to ${action} "${model}": ${problem}`,
      undefined,
      this.baseUrl,
    );
  }
}

/** A progress event as Herd reports it (the client's type marks every field as always present). */
function progressOf(event: ProgressResponse): CreateProgress {
  const out: CreateProgress = { status: event.status };
  if (event.digest !== undefined) out.digest = event.digest;
  if (event.total !== undefined) out.total = event.total;
  if (event.completed !== undefined) out.completed = event.completed;
  return out;
}

/** `name` with `:latest` added when it has no tag. */
export function withTag(name: string): string {
  const slash = name.lastIndexOf("/");
  return name.slice(slash + 1).includes(":") ? name : `${name}:latest`;
}
