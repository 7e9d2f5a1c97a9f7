import type { ListResponse } from "ollama";
import { expertModel, MODEL_PREFIX } from "../../core/blend-resolver.js";
import type {
  ChatCallOptions,
  ChatChunk,
  ChatProvider,
  ChatProviderCapabilities,
  ChatRequest,
  ExpertSetUpdate,
  ProviderExpertReload,
} from "../../core/chat.js";
import {
  BackendTimeoutError,
  ExpertsNotServedError,
  errorMessage,
  HerdError,
  ModelNotFoundError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../core/errors.js";
import { changedExperts, uncheckedExpertsWarning } from "../../core/expert-reload.js";
import type { BackendTimeouts } from "../../core/timeouts.js";
import {
  type BackendInfo,
  type BackendResponse,
  backendHealth,
  backendRequest,
} from "../http/backend-request.js";
import { parseNdjson } from "../http/ndjson.js";
import { ollamaBaseUrl } from "../http/ollama-base-url.js";
import { REPLY_LIMITS } from "../http/reply-limits.js";
import { type OllamaChatLine, toOllamaChatBody } from "./ollama-messages.js";
import { OllamaReplyTranslator } from "./ollama-response.js";

/** Settings of the Ollama chat provider. */
export interface OllamaChatProviderOptions {
  /** The Ollama server. @default env OLLAMA_HOST, then "http://127.0.0.1:11434" */
  baseUrl?: string;
  /** Ollama options sent with every request (e.g. `{ num_ctx: 8192 }`); per-request params win. @default {} */
  options?: Record<string, unknown>;
  /** How long Ollama keeps a model loaded after a request, e.g. "10m" or seconds. @default Ollama's default ("5m") */
  keepAlive?: string | number;
  /** Headers sent with every request (a proxy's auth, say). @default {} */
  headers?: Record<string, string>;
  /** A fetch to use instead of Herd's http.request client (tests, proxies). @default none */
  fetch?: typeof fetch;
  /** Limits of every call to Ollama (config `timeouts`). @default DEFAULT_TIMEOUTS */
  timeouts?: Partial<BackendTimeouts>;
}

/**
 * Generates with an Ollama server through POST /api/chat, streaming NDJSON. Each expert is an Ollama
 * model (the base plus one adapter, built by `herd build`), so the routing decision's model name is
 * all Ollama needs; blends use prebuilt merged variants. Ollama is asked to stream even when Herd's
 * caller wants the whole answer: with `stream:false` Ollama sends nothing until it has finished, so
 * the idle timeout could not tell a stalled backend from a long answer.
 *
 * @example
 * const provider = new OllamaChatProvider({ baseUrl: "http://127.0.0.1:11434" });
 * for await (const chunk of provider.stream({
 *   target: { model: "herd-code", adapters: [], base: false },
 *   messages: [{ role: "user", content: "Reverse a list in Python" }],
 *   params: { temperature: 0.2 },
 * })) if (chunk.type === "text") process.stdout.write(chunk.text);
 */
export class OllamaChatProvider implements ChatProvider {
  readonly name = "ollama";
  readonly capabilities: ChatProviderCapabilities = {
    nativeBlend: false,
    tools: true,
    jsonSchema: true,
    forcedToolChoice: true,
    logprobs: true,
  };
  readonly baseUrl: string;
  private readonly settings: OllamaChatProviderOptions;
  private readonly backend: BackendInfo;
  /** The headers of a chat call, built once. */
  private readonly headers: Record<string, string>;

  constructor(options: OllamaChatProviderOptions = {}) {
    this.settings = options;
    this.baseUrl = ollamaBaseUrl(options.baseUrl);
    this.backend = {
      service: "Ollama",
      baseUrl: this.baseUrl,
      unreachableHint: "Start it with `ollama serve`, or point provider.url (or OLLAMA_HOST) at your server.",
      fetch: options.fetch,
      timeouts: options.timeouts,
    };
    this.headers = Object.assign({ "content-type": "application/json" }, options.headers);
  }

  async *stream(request: ChatRequest, options: ChatCallOptions = {}): AsyncGenerator<ChatChunk> {
    const body = toOllamaChatBody(request, {
      options: this.settings.options,
      keepAlive: this.settings.keepAlive,
    });
    const response = await this.post(body, request.target.model, options.signal);

    const translator = new OllamaReplyTranslator(request, this.baseUrl);
    let last: OllamaChatLine | undefined;
    try {
      for await (const value of this.lines(response, request.target.model, options.signal)) {
        const line = value as OllamaChatLine;
        if (line.error !== undefined) {
          throw new ProviderResponseError(
            `Ollama failed while generating with "${request.target.model}": ${String(line.error)}`,
            undefined,
            this.baseUrl,
          );
        }
        if (line.done) {
          last = line;
          break;
        }
        // A loop, not yield* over the array: yield* wraps each element in an async-from-sync step.
        for (const chunk of translator.translate(line)) yield chunk;
      }
      if (last === undefined) {
        throw new ProviderResponseError(
          `Ollama closed the /api/chat stream for "${request.target.model}" before its final "done" line.`,
          undefined,
          this.baseUrl,
        );
      }
      for (const chunk of translator.translate(last)) yield chunk;
      // The whole answer is out: read the end of the reply, which Ollama writes after the final
      // line, so the connection is kept for the next call.
      await response.finish();
    } finally {
      // A reply left before its end (an error, the caller stopping) is closed.
      await response.close();
    }
  }

  /**
   * The reply's NDJSON lines, read from the backend's Node stream as they arrive. A line over
   * MAX_NDJSON_LINE_BYTES, or a connection lost mid-reply, becomes an error naming Ollama's address.
   * Stopping does not close the reply: `stream` finishes or closes it.
   */
  private async *lines(
    response: BackendResponse,
    model: string,
    signal?: AbortSignal,
  ): AsyncGenerator<unknown> {
    try {
      yield* parseNdjson(response.chunks(), {
        signal,
        onInvalid: (line) =>
          new ProviderResponseError(
            `Ollama sent a line that is not JSON: ${line.slice(0, 200)}`,
            undefined,
            this.baseUrl,
          ),
        onTooLong: (limit) =>
          new ProviderResponseError(
            `Ollama at ${this.baseUrl} sent a reply line longer than ${limit} bytes while generating with "${model}"; ` +
              "Herd stopped reading it. Check the Ollama server (or what answers at this address).",
            undefined,
            this.baseUrl,
          ),
      });
    } catch (error) {
      if (signal?.aborted || HerdError.isInstance(error)) throw error;
      throw new ProviderUnavailableError(
        `Ollama at ${this.baseUrl} closed the connection while generating with "${model}" (${errorMessage(error)}): ` +
          "it may have crashed or run out of memory; check its log.",
        this.baseUrl,
        { cause: error },
      );
    }
  }

  /** The models Ollama has (`GET /api/tags`), e.g. `herd-code:latest`. */
  async listModels(options: ChatCallOptions = {}): Promise<string[]> {
    const response = await backendRequest(this.backend, "api/tags", {
      headers: this.settings.headers,
      signal: options.signal,
    });
    // Typed by the official client, read defensively: the server is outside our control.
    const data = (await response.json(REPLY_LIMITS.listing)) as Partial<ListResponse> | null;
    return (data?.models ?? []).map((m) => String(m.name ?? m.model));
  }

  /**
   * Gets ready for a reload of the experts: nothing to switch (the model name comes with each
   * request), but the model of every new expert (or one renamed) must exist (GET /api/tags), else
   * ExpertsNotServedError says to run `herd build` first.
   */
  async reloadExperts(update: ExpertSetUpdate, options: ChatCallOptions = {}): Promise<ProviderExpertReload> {
    const fresh = changedExperts(update, expertModel); // a new name: examples alone need no check
    const reload = { warnings: [] as string[], commit: () => {} };
    if (fresh.length === 0) return reload;
    let models: Set<string>;
    try {
      models = new Set(await this.listModels(options));
    } catch (error) {
      if (!(error instanceof ProviderUnavailableError || error instanceof BackendTimeoutError)) throw error;
      reload.warnings.push(
        uncheckedExpertsWarning(
          "Ollama",
          fresh.map((e) => e.name),
          error,
        ),
      );
      return reload;
    }
    const missing = fresh.filter((e) => {
      const model = expertModel(e);
      return !models.has(model) && !models.has(`${model}:latest`);
    });
    if (missing.length > 0) {
      throw new ExpertsNotServedError(
        missing.map((e) => e.name),
        `Ollama at ${this.baseUrl} has no model ${missing.map((e) => `${expertModel(e)} (expert "${e.name}")`).join(", ")}. The experts are unchanged. Build it with \`npx herd build\` (it creates herd-<expert> for each expert in experts.json), then reload again (POST /admin/experts/reload).`,
      );
    }
    return reload;
  }

  /** Checks that Ollama answers `GET /`, on the health connection pool with its short timeout. */
  async health(options: ChatCallOptions = {}): Promise<void> {
    await backendHealth(this.backend, "", { headers: this.settings.headers, signal: options.signal });
  }

  // The chat hot path stays on the lean keep-alive client: the official client took 1.47 vs 1.20 ms per
  // streamed request (1 at a time) and 1.21 vs 0.83 ms (16 at once), bench/ollama-client.ts.
  private async post(body: unknown, model: string, signal?: AbortSignal): Promise<BackendResponse> {
    try {
      return await backendRequest(this.backend, "api/chat", {
        method: "POST",
        headers: this.headers,
        body: JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (
        error instanceof ProviderResponseError &&
        error.providerStatus === 404 &&
        /not found/i.test(error.message)
      ) {
        throw new ModelNotFoundError(
          model,
          model.startsWith(MODEL_PREFIX)
            ? `Ollama at ${this.baseUrl} has no model "${model}". Build Herd's models with \`herd build\`, then retry.`
            : `Ollama at ${this.baseUrl} has no model "${model}". Pull it with \`ollama pull ${model}\`, then retry.`,
          this.baseUrl,
          { cause: error, code: model.startsWith(MODEL_PREFIX) ? "model_not_built" : "model_not_pulled" },
        );
      }
      throw error;
    }
  }
}
