import type { ChatChunk } from "../../core/chat.js";
import { ConfigError, ProviderResponseError } from "../../core/errors.js";
import type { BackendTimeouts } from "../../core/timeouts.js";
import {
  type BackendInfo,
  type BackendResponse,
  backendHealth,
  backendRequest,
  HEALTH_TIMEOUTS,
} from "./backend-request.js";
import {
  type EngineErrorContext,
  engineError,
  engineErrorFromText,
  parseEngineErrorBody,
} from "./engine-errors.js";
import type { OpenAIChatBody } from "./openai-chat-body.js";
import { type ChatReplyOptions, chatChunksFromJson, chatChunksFromSse } from "./openai-chat-stream.js";
import { REPLY_LIMITS, type ReplyLimit } from "./reply-limits.js";
import { parseSse } from "./sse.js";

/** How a provider reaches its engine: the connection settings vLLM, LoRAX and llama-server share. */
export interface EngineConnectionOptions {
  /** The engine's address, with or without a trailing `/v1`. @default the engine's env var, then its usual local port */
  url?: string;
  /** Sent as `Authorization: Bearer <apiKey>` (the engine's `--api-key`). @default env HERD_BACKEND_API_KEY */
  apiKey?: string;
  /** Headers sent with every request (a proxy's auth, say). @default {} */
  headers?: Record<string, string>;
  /** A fetch to use instead of Herd's http.request client (tests, proxies). @default none */
  fetch?: typeof fetch;
  /** Limits of every call to the engine (config `timeouts`). @default DEFAULT_TIMEOUTS */
  timeouts?: Partial<BackendTimeouts>;
}

/** What a provider says about its engine, for addresses and error messages. */
export interface EngineDescription {
  /** A human name used in every error, e.g. `vLLM`. */
  service: string;
  /** The env var that sets the URL when the settings do not, e.g. `VLLM_URL`. */
  urlEnv: string;
  /** The URL when neither the settings nor the env var give one. */
  defaultUrl: string;
  /** What to do when the engine cannot be reached (how to start it, which flag sets the URL). */
  unreachableHint: string;
  /** How to make an unknown model or adapter servable (named in ModelNotFoundError). */
  notFoundHint?: (model: string) => string;
  /** The flag that sets the URL, named when it is bad. @default "--provider" */
  flag?: string;
}

/** Settings of {@link EngineClient}: the connection with its URL resolved, and the engine. */
export type EngineClientOptions = EngineConnectionOptions &
  Omit<EngineDescription, "urlEnv" | "defaultUrl"> & { url: string };

/** Per-call settings. */
export interface EngineCallOptions {
  signal?: AbortSignal;
  /** The model or adapter the call asks for, so an unknown one becomes ModelNotFoundError. */
  model?: string;
  /**
   * A start-up or health check rather than a generation: the health connection pool and the short
   * health bound (HEALTH_TIMEOUTS). @default false
   */
  check?: boolean;
}

/**
 * Validates an engine URL (`http(s)://host:port`, an optional trailing `/v1` is dropped).
 * @throws ConfigError naming the flag when the URL is not http(s)
 */
export function engineBaseUrl(url: string, service: string, flag: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new ConfigError(
      `${service}'s URL "${url}" is not a URL; give it as ${flag}:http://HOST:PORT (config provider.url).`,
      "provider.url",
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ConfigError(
      `${service}'s URL "${url}" must start with http:// or https:// (${flag}:http://HOST:PORT, config provider.url).`,
      "provider.url",
    );
  }
  return parsed.toString().replace(/\/+$/, "").replace(/\/v1$/, "");
}

/**
 * The one HTTP client for OpenAI-compatible engines (vLLM, LoRAX, llama-server): keep-alive
 * transport and timeouts through `backendRequest` (the Node reply read directly, no fetch Response),
 * bearer auth, SSE and JSON chat completions translated to Herd chunks, and every error reply
 * (before or inside a stream) mapped by `engineError`. Providers add what differs per engine
 * (which model, adapter scales, merges).
 *
 * @example
 * const client = new EngineClient({ service: "vLLM", url: "http://127.0.0.1:8000", unreachableHint: "Start vllm serve." });
 * for await (const chunk of client.chat(body, { model: body.model })) console.log(chunk);
 */
export class EngineClient {
  readonly baseUrl: string;
  readonly service: string;
  private readonly headers: Record<string, string>;
  private readonly headerSets = new Map<string, Record<string, string>>();

  constructor(private readonly options: EngineClientOptions) {
    this.service = options.service;
    this.baseUrl = engineBaseUrl(options.url, options.service, options.flag ?? "--provider");
    this.headers = { ...options.headers };
    if (options.apiKey) this.headers.authorization = `Bearer ${options.apiKey}`;
  }

  /**
   * The client of an engine provider: the URL from the settings, then `engine.urlEnv`, then
   * `engine.defaultUrl`; the key from the settings, then HERD_BACKEND_API_KEY.
   */
  static connect(connection: EngineConnectionOptions, engine: EngineDescription): EngineClient {
    // Only the connection fields: a provider passes its whole settings object.
    return new EngineClient({
      service: engine.service,
      url: connection.url ?? process.env[engine.urlEnv] ?? engine.defaultUrl,
      unreachableHint: engine.unreachableHint,
      notFoundHint: engine.notFoundHint,
      flag: engine.flag,
      apiKey: connection.apiKey ?? process.env.HERD_BACKEND_API_KEY,
      headers: connection.headers,
      fetch: connection.fetch,
      timeouts: connection.timeouts,
    });
  }

  /** The error context of a call (for mapping error events read by a caller). */
  context(model?: string): EngineErrorContext {
    return {
      service: this.service,
      baseUrl: this.baseUrl,
      model,
      notFoundHint: this.options.notFoundHint,
    };
  }

  /**
   * Sends one request and resolves with the 2xx reply; read it once or `close()` it. The only place
   * this client touches the transport (`backendRequest`).
   */
  async send(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    options: EngineCallOptions & { accept?: string } = {},
  ): Promise<BackendResponse> {
    return backendRequest(this.backend(options.model), path, {
      method,
      headers: this.headersFor(options.accept, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
      pool: options.check ? "health" : "requests",
      timeouts: options.check ? HEALTH_TIMEOUTS : undefined,
    });
  }

  /** `GET path` answers 2xx, on the health pool within the health bound (`backendHealth`). */
  async health(path: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await backendHealth(this.backend(), path, { headers: this.headers, signal: options.signal });
  }

  /** GETs a JSON document (a listing: at most `REPLY_LIMITS.listing`). */
  async getJson(path: string, options: EngineCallOptions = {}): Promise<unknown> {
    const response = await this.send("GET", path, undefined, options);
    return this.json(response, path, REPLY_LIMITS.listing);
  }

  /**
   * Reads a reply body as JSON, naming the engine when it is not; a body past `limit` (default: a
   * listing's) is destroyed and fails with ReplyTooLargeError naming the engine's URL and the limit.
   */
  async json(
    response: BackendResponse,
    path: string,
    limit: ReplyLimit = REPLY_LIMITS.listing,
  ): Promise<unknown> {
    const text = await response.text(limit);
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new ProviderResponseError(
        `${this.service} at ${this.baseUrl} answered ${path} with something that is not JSON: ${text.slice(0, 200)}`,
        response.status,
        this.baseUrl,
        { cause },
      );
    }
  }

  /**
   * POST /v1/chat/completions: with `body.stream` an SSE stream read as it arrives, without it one
   * JSON reply; either way the same chunks, ending with one `finish`. `reply` keeps log-probabilities
   * and limits parallel tool calls (see `chatReplyOptions`).
   */
  async *chat(
    body: OpenAIChatBody,
    options: EngineCallOptions & { reply?: ChatReplyOptions } = {},
  ): AsyncGenerator<ChatChunk> {
    const path = "v1/chat/completions";
    const model = options.model ?? body.model;
    const response = await this.send("POST", path, body, {
      signal: options.signal,
      model,
      accept: body.stream ? "text/event-stream" : "application/json",
    });
    if (!body.stream) {
      const reply = await this.json(response, path, REPLY_LIMITS.chat);
      yield* chatChunksFromJson(reply, this.context(model), path, options.reply);
      return;
    }
    try {
      yield* chatChunksFromSse(
        response.chunks(),
        this.context(model),
        `/${path}`,
        options.signal,
        options.reply,
      );
      // After [DONE], read the end of the reply (written later by uvicorn and Go servers) so the
      // connection is kept for the next call.
      await response.finish();
    } finally {
      await response.close();
    }
  }

  /**
   * POSTs and yields the JSON data of each SSE event (for native streams such as LoRAX's
   * /generate_stream). An event carrying an error in any engine shape throws through `engineError`.
   */
  async *events(path: string, body: unknown, options: EngineCallOptions = {}): AsyncGenerator<unknown> {
    const response = await this.send("POST", path, body, {
      signal: options.signal,
      model: options.model,
      accept: "text/event-stream",
    });
    const context = this.context(options.model);
    try {
      for await (const event of parseSse(response.chunks(), { signal: options.signal })) {
        let data: unknown;
        try {
          data = JSON.parse(event.data);
        } catch (cause) {
          throw new ProviderResponseError(
            `${this.service} at ${this.baseUrl} sent a stream event that is not JSON: ${event.data.slice(0, 200)}`,
            undefined,
            this.baseUrl,
            { cause },
          );
        }
        const error =
          typeof data === "object" && data !== null && "error" in data
            ? parseEngineErrorBody(data)
            : undefined;
        if (error) throw engineError(context, undefined, error, `/${path}`);
        yield data;
      }
    } finally {
      await response.close();
    }
  }

  /** The backend description of one call: its errors name the model it asked for. */
  private backend(model?: string): BackendInfo {
    const context = this.context(model);
    return {
      service: this.service,
      baseUrl: this.baseUrl,
      unreachableHint: this.options.unreachableHint,
      fetch: this.options.fetch,
      timeouts: this.options.timeouts,
      toError: (status, text, where) => engineError(context, status, engineErrorFromText(text), where),
    };
  }

  /** The headers of a call, built once per (accept, has a body) pair rather than per request. */
  private headersFor(accept: string | undefined, hasBody: boolean): Record<string, string> {
    const key = `${accept ?? ""}|${hasBody}`;
    let headers = this.headerSets.get(key);
    if (!headers) {
      headers = { ...this.headers };
      if (accept) headers.accept = accept;
      if (hasBody) headers["content-type"] = "application/json";
      this.headerSets.set(key, headers);
    }
    return headers;
  }
}
