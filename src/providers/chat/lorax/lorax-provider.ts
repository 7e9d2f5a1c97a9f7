import { expertModel, expertModelName } from "../../../core/blend-resolver.js";
import type {
  ChatCallOptions,
  ChatChunk,
  ChatProvider,
  ChatProviderCapabilities,
  ChatRequest,
  ExpertSetUpdate,
  ProviderExpertReload,
} from "../../../core/chat.js";
import {
  BackendTimeoutError,
  ConfigError,
  ExpertsNotServedError,
  InvalidInputError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../../core/errors.js";
import type { ExpertSet } from "../../../core/expert.js";
import { changedExperts, uncheckedExpertsWarning } from "../../../core/expert-reload.js";
import { forcedToolCallSchema } from "../../../core/forced-tool-call.js";
import { EngineClient, type EngineConnectionOptions } from "../../http/engine-client.js";
import { toOpenAIChatBody } from "../../http/openai-chat-body.js";
import { chatReplyOptions } from "../../http/openai-chat-stream.js";
import { ChatTemplate, type ChatTemplateSource, readTokenizerConfig } from "./chat-template.js";
import { forcedCallChunks, loraxForcedCall } from "./forced-tool-call.js";
import { chunksFromGenerateStream } from "./generate-stream.js";
import { toLoraxMessages } from "./lorax-messages.js";
import { type NativeAdapters, type NativeReason, nativeParameters } from "./native-parameters.js";

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
export interface LoraxChatProviderOptions extends EngineConnectionOptions {
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
   * The prebuilt blend adapters in `adapterDir` (`herd build --engine lorax` lists them in its
   * herd.config.json). When set, a blend that is not among them falls back to its top expert with a
   * warning instead of asking LoRAX for a folder that does not exist.
   * @default none: every blend variant on the grid is assumed built
   */
  blends?: string[];
  /**
   * Blend natively: LoRAX merges the experts' adapters per request with these settings (through
   * /generate_stream, which needs `chatTemplate` or `tokenizerConfig`). @default none: blends are
   * the merged adapters `herd build --engine lorax` writes
   */
  merge?: LoraxMergeOptions;
  /** The base model's chat template (Jinja), for native merges and logprobs (/generate_stream). */
  chatTemplate?: string;
  /** The base model's tokenizer_config.json (chat_template, bos/eos tokens), for native merges and logprobs. */
  tokenizerConfig?: string;
  /** `max_tokens` when a request gives none (LoRAX's own default is 20). @default 1024 */
  defaultMaxTokens?: number;
}

/** The most adapters one reload asks LoRAX for (each is a one-token generation). */
const MAX_PROBES = 32;

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
  /** Each expert's adapter name: the start-up experts, then those of the last reload. */
  private experts: Record<string, string>;

  constructor(private readonly options: LoraxChatProviderOptions = {}) {
    // Forced tool choices are enforced (see loraxForcedCall). LoRAX's chat route returns no logprobs;
    // its native /generate_stream does, on a prompt Herd renders (which needs the chat template).
    this.capabilities = {
      nativeBlend: options.merge !== undefined,
      tools: true,
      jsonSchema: true,
      forcedToolChoice: true,
      logprobs: options.chatTemplate !== undefined || options.tokenizerConfig !== undefined,
    };
    this.client = EngineClient.connect(options, {
      service: "LoRAX",
      urlEnv: "LORAX_URL",
      defaultUrl: "http://127.0.0.1:8080",
      flag: "--provider lorax",
      unreachableHint:
        "Start it (lorax-launcher --model-id BASE, with the adapters folder mounted) or fix the address: --provider lorax:http://HOST:PORT.",
      notFoundHint: (id) =>
        `Check the adapter exists where LoRAX looks (${options.adapterDir ? `a PEFT folder at ${id}, written by \`herd build --engine lorax\`` : `the ${this.source()} id ${id}`}) and provider.adapterDir / provider.adapterSource.`,
    });
    this.experts = { ...options.experts };
    const blends = options.blends;
    if (blends) this.listModels = async () => [...Object.values(this.experts), ...blends];
    if (options.merge && !options.chatTemplate && !options.tokenizerConfig) {
      throw new ConfigError(
        "provider.merge (LoRAX native merges) renders prompts itself: set provider.chatTemplate or provider.tokenizerConfig (the base model's tokenizer_config.json).",
        "provider.merge",
      );
    }
  }

  /**
   * The adapters this provider can ask for: the experts' and `blends` (only when `blends` is set;
   * LoRAX itself cannot list the folders it would load). The blend resolver reads it.
   */
  readonly listModels?: () => Promise<string[]>;

  /** The server address. */
  get baseUrl(): string {
    return this.client.baseUrl;
  }

  /** Loads the chat template now when it is set, so a bad template fails at start-up. */
  async prepare(): Promise<void> {
    if (this.options.chatTemplate !== undefined || this.options.tokenizerConfig !== undefined)
      await this.chatTemplate();
  }

  /**
   * Gets ready for a reload of the experts. LoRAX cannot list the adapters it would load, so each new
   * adapter (a new expert, or one served under another name) is asked for one token through
   * /v1/chat/completions, which also loads it ahead of the first request. When LoRAX answers that it
   * cannot load one, throws ExpertsNotServedError naming the adapter id and `herd build --engine lorax`.
   */
  async reloadExperts(update: ExpertSetUpdate, options: ChatCallOptions = {}): Promise<ProviderExpertReload> {
    const fresh = changedExperts(update, expertModel); // a new name: examples alone need no check
    const warnings: string[] = [];
    const failures: { expert: string; why: string }[] = [];
    const unprobed = fresh.slice(MAX_PROBES).map((e) => e.name);
    if (unprobed.length > 0)
      warnings.push(
        `Asked LoRAX for the first ${MAX_PROBES} new adapters only; ${unprobed.length} are unchecked (${unprobed.slice(0, 3).join(", ")}${unprobed.length > 3 ? ", ..." : ""}).`,
      );
    const probed = fresh.slice(0, MAX_PROBES);
    for (const [i, expert] of probed.entries()) {
      const id = this.adapterId(expertModel(expert));
      try {
        const body = {
          model: id,
          messages: [{ role: "user", content: "Hello" }],
          max_tokens: 1,
          stream: false,
          adapter_source: this.source(),
        };
        const response = await this.client.send("POST", "v1/chat/completions", body, {
          signal: options.signal,
          model: id,
        });
        await response.text();
      } catch (error) {
        if (error instanceof ProviderUnavailableError || error instanceof BackendTimeoutError) {
          const rest = probed.slice(i).map((e) => e.name);
          warnings.push(uncheckedExpertsWarning("LoRAX", rest, error));
          break;
        } else if (error instanceof ProviderResponseError && !error.isRetryable) {
          failures.push({ expert: expert.name, why: `${id}: ${error.message}` });
        } else throw error;
      }
    }
    if (failures.length > 0) {
      throw new ExpertsNotServedError(
        failures.map((f) => f.expert),
        `LoRAX at ${this.baseUrl} cannot load the adapter of ${failures.map((f) => `expert "${f.expert}" (${f.why})`).join(", ")}. The experts are unchanged. ${this.options.adapterDir ? `Write it with \`herd build --engine lorax --out DIR\` (provider.adapterDir is DIR/adapters as LoRAX sees it)` : `Check the ${this.source()} id (experts.json model) and provider.adapterSource`}, then reload again (POST /admin/experts/reload).`,
      );
    }
    const added = Object.fromEntries(fresh.map((e) => [e.name, expertModel(e)]));
    this.experts = { ...this.experts, ...added }; // old and new until the router has switched
    const commit = (served: ExpertSet) => {
      this.experts = Object.fromEntries(served.experts.map((e) => [e.name, expertModel(e)]));
    };
    return { warnings, commit };
  }

  async *stream(request: ChatRequest, options: ChatCallOptions = {}): AsyncGenerator<ChatChunk> {
    if (this.options.merge && request.target.adapters.length > 1) {
      yield* this.native(request, "merge", options.signal);
      return;
    }
    if (request.params.logprobs) {
      if (!this.capabilities.logprobs) {
        throw new InvalidInputError(
          "LoRAX returns token log-probabilities only through /generate_stream, which needs the base model's chat template: set provider.chatTemplate or provider.tokenizerConfig, or drop logprobs.",
          "logprobs",
        );
      }
      yield* this.native(request, "logprobs", options.signal);
      return;
    }
    const model = request.target.base ? "" : this.adapterId(request.target.model);
    const forced = loraxForcedCall(request);
    const sent: ChatRequest =
      forced.kind === "schema"
        ? {
            ...request,
            tools: undefined,
            toolChoice: undefined,
            responseFormat: { type: "json_schema", schema: forcedToolCallSchema(forced.tools, "anyOf") },
          }
        : request;
    // LoRAX streams a tool call as its raw grammar JSON (no tool_calls deltas): ask for one JSON reply.
    const tools = (sent.tools?.length ?? 0) > 0 || forced.kind === "schema";
    const body = toOpenAIChatBody(sent, model, (options.stream ?? true) && !tools, {
      repetitionPenaltyKey: "repetition_penalty",
      schemaAsJsonObject: true,
    });
    body.messages = toLoraxMessages(request.messages);
    if (forced.kind === "name") body.tool_choice = forced.name;
    body.max_tokens ??= this.options.defaultMaxTokens ?? 1024;
    if (!request.target.base) body.adapter_source = this.source();
    const chunks = this.client.chat(body, {
      signal: options.signal,
      model: model || undefined,
      reply: chatReplyOptions(request),
    });
    yield* forced.kind === "schema" ? forcedCallChunks(chunks, forced.tools, this.baseUrl) : chunks;
  }

  /** LoRAX's GET /health: 200 once the model is loaded. */
  async health(): Promise<void> {
    await this.client.health("health");
  }

  /**
   * LoRAX's native POST /generate_stream on a prompt rendered from the base model's chat template:
   * a blend merged per request (`merged_adapters`), or one adapter / the base when the caller asked
   * for log-probabilities (LoRAX's chat route returns none).
   */
  private async *native(
    request: ChatRequest,
    reason: NativeReason,
    signal?: AbortSignal,
  ): AsyncGenerator<ChatChunk> {
    const experts = this.experts;
    const target = request.target;
    const adapters: NativeAdapters =
      reason === "merge"
        ? {
            kind: "merge",
            ids: target.adapters.map((a) =>
              this.adapterId(
                Object.hasOwn(experts, a.expert) ? experts[a.expert]! : expertModelName(a.expert),
              ),
            ),
            weights: target.adapters.map((a) => a.scale),
            merge: this.options.merge!,
          }
        : target.base
          ? { kind: "base" }
          : { kind: "adapter", id: this.adapterId(target.model) };
    const parameters = nativeParameters(request, adapters, {
      source: this.source(),
      defaultMaxTokens: this.options.defaultMaxTokens ?? 1024,
      reason,
    });
    const p = request.params;
    const inputs = (await this.chatTemplate()).render(request.messages);
    const model = adapters.kind === "adapter" ? adapters.id : undefined;
    const events = this.client.events("generate_stream", { inputs, parameters }, { signal, model });
    yield* chunksFromGenerateStream(
      events,
      p.stop ?? [],
      () =>
        new ProviderResponseError(
          `LoRAX at ${this.baseUrl} closed /generate_stream before its last event: it may have crashed; check its log.`,
          undefined,
          this.baseUrl,
        ),
      p.logprobs ? { topLogprobs: p.topLogprobs ?? 0 } : undefined,
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
