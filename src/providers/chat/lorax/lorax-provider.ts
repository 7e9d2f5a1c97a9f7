import { expertModelName } from "../../../core/blend-resolver.js";
import type {
  ChatCallOptions,
  ChatChunk,
  ChatProvider,
  ChatProviderCapabilities,
  ChatRequest,
} from "../../../core/chat.js";
import { ConfigError, InvalidInputError, ProviderResponseError } from "../../../core/errors.js";
import type { BackendTimeouts } from "../../../core/timeouts.js";
import { EngineClient } from "../../http/engine-client.js";
import { toOpenAIChatBody } from "../../http/openai-chat-body.js";
import { ChatTemplate, type ChatTemplateSource, readTokenizerConfig } from "./chat-template.js";
import { chunksFromGenerateStream } from "./generate-stream.js";

/** How LoRAX merges the adapters of a blend (`parameters.merged_adapters`). */
export interface LoraxMergeOptions {
  /** @default "linear" */
  strategy?: "linear" | "ties" | "dare_linear" | "dare_ties";
  /** The fraction of weights kept (0-1), used by ties and the dare strategies. @default LoRAX's 0.0 */
  density?: number;
  /** How ties picks the sign of each weight. @default LoRAX's "total" */
  majoritySignMethod?: "total" | "frequency";
}

/** Settings of {@link LoraxChatProvider}. */
export interface LoraxChatProviderOptions {
  /** The LoRAX server. @default env LORAX_URL, then "http://127.0.0.1:8080" */
  url?: string;
  /** Sent as a bearer token (LoRAX forwards it to fetch private adapters). @default env HERD_BACKEND_API_KEY */
  apiKey?: string;
  /**
   * The adapters folder as the LoRAX server sees it (`herd build --engine lorax`'s `adapters/`): an
   * adapter id is `<adapterDir>/<name>` with `adapter_source: "local"`. @default none: ids are the model names
   */
  adapterDir?: string;
  /** Where LoRAX fetches adapters from. @default "local" with adapterDir, else "hub" */
  adapterSource?: "hub" | "local" | "s3" | "pbase";
  /** Each expert's adapter name (`herd-<expert>` by Herd's convention), by expert. @default herd-<expert> */
  experts?: Record<string, string>;
  /**
   * Blend natively: LoRAX merges the experts' adapters per request with these settings (through
   * /generate_stream, which needs `chatTemplate` or `tokenizerConfig`). @default none: blends are
   * the merged adapters `herd build --engine lorax` writes
   */
  merge?: LoraxMergeOptions;
  /** The base model's chat template (Jinja), for native merges. */
  chatTemplate?: string;
  /** The base model's tokenizer_config.json (chat_template, bos/eos tokens), for native merges. */
  tokenizerConfig?: string;
  /** `max_tokens` when a request gives none (LoRAX's own default is 20). @default 1024 */
  defaultMaxTokens?: number;
  /** Headers sent with every request. @default {} */
  headers?: Record<string, string>;
  /** The fetch to use (tests, proxies). @default keepAliveFetch */
  fetch?: typeof fetch;
  /** Limits of every call to the engine (config `timeouts`). @default DEFAULT_TIMEOUTS */
  timeouts?: Partial<BackendTimeouts>;
}

/**
 * Generates with LoRAX: experts and prebuilt blends through /v1/chat/completions with `model` = the
 * adapter id (LoRAX loads adapters on demand and batches them together); the base with `model: ""`.
 * With `merge` set, blends are native: /generate_stream with `merged_adapters` (ids and routing
 * weights, the merge strategy, density), on a prompt rendered from the base model's chat template.
 *
 * @example
 * const provider = new LoraxChatProvider({ url: "http://127.0.0.1:8080", adapterDir: "/data/adapters" });
 */
export class LoraxChatProvider implements ChatProvider {
  readonly name = "lorax";
  readonly capabilities: ChatProviderCapabilities;
  private readonly client: EngineClient;
  private template: Promise<ChatTemplate> | undefined;

  constructor(private readonly options: LoraxChatProviderOptions = {}) {
    this.capabilities = { nativeBlend: options.merge !== undefined, tools: true, jsonSchema: true };
    this.client = new EngineClient({
      service: "LoRAX",
      url: options.url ?? process.env.LORAX_URL ?? "http://127.0.0.1:8080",
      apiKey: options.apiKey ?? process.env.HERD_BACKEND_API_KEY,
      headers: options.headers,
      fetch: options.fetch,
      timeouts: options.timeouts,
      flag: "--provider lorax",
      unreachableHint:
        "Start it (lorax-launcher --model-id BASE, with the adapters folder mounted) or fix the address: --provider lorax:http://HOST:PORT.",
      notFoundHint: (id) =>
        `Check the adapter exists where LoRAX looks (${options.adapterDir ? `a PEFT folder at ${id}, written by \`herd build --engine lorax\`` : `the ${this.source()} id ${id}`}) and provider.adapterDir / provider.adapterSource.`,
    });
    if (options.merge && !options.chatTemplate && !options.tokenizerConfig) {
      throw new ConfigError(
        "provider.merge (LoRAX native merges) renders prompts itself: set provider.chatTemplate or provider.tokenizerConfig (the base model's tokenizer_config.json).",
        "provider.merge",
      );
    }
  }

  /** The server address. */
  get baseUrl(): string {
    return this.client.baseUrl;
  }

  /** Loads the chat template now when native merges are on, so a bad template fails at start-up. */
  async prepare(): Promise<void> {
    if (this.options.merge) await this.chatTemplate();
  }

  async *stream(request: ChatRequest, options: ChatCallOptions = {}): AsyncGenerator<ChatChunk> {
    if (this.options.merge && request.target.adapters.length > 1) {
      yield* this.merged(request, options.signal);
      return;
    }
    const model = request.target.base ? "" : this.adapterId(request.target.model);
    // LoRAX streams a tool call as its raw grammar JSON (no tool_calls deltas): ask for one JSON reply.
    const stream = (options.stream ?? true) && !(request.tools && request.tools.length > 0);
    const body = toOpenAIChatBody(request, model, stream, {
      repetitionPenaltyKey: "repetition_penalty",
      schemaAsJsonObject: true,
    });
    body.max_tokens ??= this.options.defaultMaxTokens ?? 1024;
    if (!request.target.base) body.adapter_source = this.source();
    yield* this.client.chat(body, { signal: options.signal, model: model || undefined });
  }

  /** LoRAX's GET /health: 200 once the model is loaded. */
  async health(): Promise<void> {
    await this.client.health("health");
  }

  /** A blend merged per request by LoRAX: POST /generate_stream with `merged_adapters`. */
  private async *merged(request: ChatRequest, signal?: AbortSignal): AsyncGenerator<ChatChunk> {
    if (request.tools && request.tools.length > 0) {
      throw new InvalidInputError(
        "LoRAX merges adapters through /generate_stream, which cannot call tools; send the request without tools, or drop provider.merge to use prebuilt blend adapters.",
        "tools",
      );
    }
    if (request.responseFormat && request.responseFormat.type !== "text") {
      throw new InvalidInputError(
        "LoRAX merges adapters through /generate_stream, where Herd does not constrain the output format; drop response_format, or drop provider.merge.",
        "response_format",
      );
    }
    const merge = this.options.merge!;
    const experts = this.options.experts ?? {};
    const adapters = request.target.adapters;
    const ids = adapters.map((a) =>
      this.adapterId(Object.hasOwn(experts, a.expert) ? experts[a.expert]! : expertModelName(a.expert)),
    );
    const p = request.params;
    const parameters: Record<string, unknown> = {
      merged_adapters: {
        ids,
        weights: adapters.map((a) => a.scale),
        merge_strategy: merge.strategy ?? "linear",
        ...(merge.density !== undefined ? { density: merge.density } : {}),
        ...(merge.majoritySignMethod ? { majority_sign_method: merge.majoritySignMethod } : {}),
      },
      adapter_source: this.source(),
      max_new_tokens: p.maxTokens ?? this.options.defaultMaxTokens ?? 1024,
      details: true,
    };
    // TGI-style validation: temperature and top_p must be strictly inside their ranges, else omitted.
    if (p.temperature !== undefined && p.temperature > 0) {
      parameters.temperature = p.temperature;
      parameters.do_sample = true;
    }
    if (p.topP !== undefined && p.topP > 0 && p.topP < 1) parameters.top_p = p.topP;
    if (p.topK !== undefined && p.topK > 0) parameters.top_k = p.topK;
    if (p.repetitionPenalty !== undefined && p.repetitionPenalty > 0)
      parameters.repetition_penalty = p.repetitionPenalty;
    if (p.seed !== undefined) parameters.seed = p.seed;
    if (p.stop && p.stop.length > 0) parameters.stop = p.stop;
    const inputs = (await this.chatTemplate()).render(request.messages);
    const events = this.client.events("generate_stream", { inputs, parameters }, { signal });
    yield* chunksFromGenerateStream(
      events,
      p.stop ?? [],
      () =>
        new ProviderResponseError(
          `LoRAX at ${this.baseUrl} closed /generate_stream before its last event: it may have crashed; check its log.`,
          undefined,
          this.baseUrl,
        ),
    );
  }

  private source(): string {
    return this.options.adapterSource ?? (this.options.adapterDir ? "local" : "hub");
  }

  /** `<adapterDir>/<name>` for local adapters, else the name (a hub, s3 or pbase id). */
  private adapterId(name: string): string {
    const dir = this.options.adapterDir;
    return dir ? `${dir.replace(/\/+$/, "")}/${name}` : name;
  }

  private chatTemplate(): Promise<ChatTemplate> {
    this.template ??= (async () => {
      const source: ChatTemplateSource = this.options.chatTemplate
        ? { template: this.options.chatTemplate }
        : await readTokenizerConfig(this.options.tokenizerConfig!);
      return new ChatTemplate(source);
    })();
    this.template.catch(() => {
      this.template = undefined;
    });
    return this.template;
  }
}
