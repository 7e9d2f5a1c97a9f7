import { randomUUID } from "node:crypto";
import type {
  BlendResolver,
  ChatChunk,
  ChatMessage,
  ChatProvider,
  ChatRequest,
  FinishReason,
  GenerationParams,
  GenerationTarget,
  ResolvedTarget,
  ResponseFormat,
  ToolCall,
  ToolChoice,
  ToolDefinition,
  Usage,
} from "./chat.js";
import { ConcurrencyLimiter } from "./concurrency.js";
import { AbortError, InvalidInputError, UnknownExpertError } from "./errors.js";
import type { ExpertSet } from "./expert.js";
import { isReported, markReported, normalizeError } from "./pipeline-errors.js";
import { PipelineStream } from "./pipeline-stream.js";
import type { Plugin } from "./plugin.js";
import { type PluginLogger, PluginRunner } from "./plugin-runner.js";
import type { RouteOptions, RouterService, RoutingDecision } from "./routing.js";

/** Facts about a request that plugins key on. Free-form beyond the named fields. */
export interface RequestMetadata {
  /** Identifies a conversation across requests (sticky routing keys its state on it). */
  conversationId?: string;
  /** The end user, for logs and rate limits. */
  user?: string;
  [key: string]: unknown;
}

/** One chat request entering Herd, from LangChain, the OpenAI facade or an app. */
export interface HerdRequest {
  /** The request id (logs, `x-request-id`). @default a random UUID */
  id?: string;
  messages: ChatMessage[];
  params?: GenerationParams;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** False: at most one tool call per answer. @default true */
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  /**
   * The model the caller asked for, as written (`herd`, `herd:<expert>`, an expert's model name, the base
   * model). The `expert-override` plugin turns it into a forced expert or base-only routing.
   */
  model?: string;
  /** Force this expert: routing is skipped. Unknown names throw `UnknownExpertError`. */
  expert?: string;
  /** How many experts to blend for this request (overrides the router's setting). */
  topExperts?: number;
  /** Any other per-request routing option (strategy, threshold, baseOnly, ...). */
  route?: Omit<RouteOptions, "signal">;
  metadata?: RequestMetadata;
}

/** Per-call options of `Pipeline.stream`. */
export interface StreamOptions {
  /** Aborts routing and generation; the upstream request is cancelled. */
  signal?: AbortSignal;
  /** False when the caller reads the whole answer at once (the provider may skip streaming). @default true */
  stream?: boolean;
}

/**
 * The state of one request as it moves through the pipeline. Plugins read and change it:
 * `routeOptions` before routing, `decision` after it, `chatRequest` before generation.
 */
export interface RequestContext {
  /** A unique id of this request (also in logs). */
  readonly id: string;
  /** The request as the caller sent it (onRequest hooks may change it). */
  request: HerdRequest;
  /** What the router is called with; built from the request, then changed by onRequest hooks. */
  routeOptions: RouteOptions;
  /** Set after routing; afterRouting hooks may replace it. */
  decision?: RoutingDecision;
  /** Set after the blend resolver; beforeGeneration hooks may change `chatRequest.target`. */
  chatRequest?: ChatRequest;
  /** Non-fatal notes for the caller (routing fallbacks, plugin warnings, base-model fallback). */
  readonly warnings: string[];
  /** Scratch space for plugins, keyed by plugin name. */
  readonly state: Map<string, unknown>;
  /** The expert set the request is routed over. */
  readonly experts: ExpertSet;
  /** `Date.now()` when the request entered the pipeline. */
  readonly startedAt: number;
  readonly signal?: AbortSignal;
  /**
   * What the base model is on this backend, as the blend resolver answers base-only requests
   * (e.g. `herd-base` on Ollama when `herd build` made it). Fallbacks retry here.
   */
  baseTarget(): GenerationTarget;
}

/** The whole answer of one request, given to `onResponse` hooks and returned by `Herd.generate`. */
export interface HerdResponse {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage?: Usage;
  /** The model that produced the answer (after any fallback). */
  model: string;
  decision: RoutingDecision;
  warnings: string[];
  /** Milliseconds from the request entering the pipeline to the last chunk. */
  durationMs: number;
}

/**
 * A started generation. The routing decision, the target and the warnings are known up front (the
 * provider has already answered with its first chunk, so backend errors before streaming reject
 * `Pipeline.stream` itself); iterating yields the chunks, ending with one `finish` chunk.
 * Breaking out of the loop, or the signal, cancels the upstream request.
 */
export interface HerdStream extends AsyncIterable<ChatChunk> {
  readonly requestId: string;
  readonly decision: RoutingDecision;
  /** What runs: model name, adapter scales, base flag (after any fallback). */
  readonly target: GenerationTarget;
  /** Warnings so far; plugins may append more while streaming (read it again after the loop). */
  readonly warnings: readonly string[];
  /** Stops the generation and frees its concurrency slot, whether or not iteration has started. */
  cancel(): void;
  /** Reads the rest of the stream and returns the whole answer. */
  collect(): Promise<HerdResponse>;
}

/** Anything that runs Herd requests: the `Pipeline`, or a `Herd` that owns one. */
export interface RequestPipeline {
  stream(request: HerdRequest, options?: StreamOptions): Promise<HerdStream>;
}

/** Settings and collaborators of a `Pipeline`. */
export interface PipelineOptions {
  router: RouterService;
  resolver: BlendResolver;
  provider: ChatProvider;
  /** The expert set, or a function returning the current one (when experts can change at run time). */
  experts: ExpertSet | (() => ExpertSet);
  /** Hooks around each request, run in `order`. @default [] */
  plugins?: readonly Plugin[];
  /** Generations running at once on the provider. @default 4 */
  concurrency?: number;
  /** Requests allowed to wait for a slot; one more fails with a retryable 503. @default Infinity */
  queue?: number;
  /** Receives non-fatal plugin failures. @default console */
  logger?: PluginLogger;
}

/**
 * The one path every request takes:
 * plugins.onRequest -> router.route -> plugins.afterRouting -> resolver.resolve -> plugins.beforeGeneration
 * -> provider.stream (-> onChunk per chunk) -> plugins.onResponse, or plugins.onError on failure.
 *
 * @example
 * const pipeline = new Pipeline({ router, resolver, provider, experts });
 * const stream = await pipeline.stream({ messages: [{ role: "user", content: "Write a haiku" }] });
 * console.log(stream.decision.selected);
 * for await (const chunk of stream) if (chunk.type === "text") process.stdout.write(chunk.text);
 */
export class Pipeline implements RequestPipeline {
  readonly provider: ChatProvider;
  private readonly router: RouterService;
  private readonly resolver: BlendResolver;
  private readonly expertSource: () => ExpertSet;
  private readonly plugins: PluginRunner;
  private readonly limiter: ConcurrencyLimiter;

  constructor(options: PipelineOptions) {
    this.router = options.router;
    this.resolver = options.resolver;
    this.provider = options.provider;
    const experts = options.experts;
    this.expertSource = typeof experts === "function" ? experts : () => experts;
    this.plugins = new PluginRunner(options.plugins ?? [], options.logger ?? console);
    this.limiter = new ConcurrencyLimiter({
      limit: options.concurrency,
      queue: options.queue,
      label: `chat provider "${options.provider.name}"`,
    });
  }

  /** The plugins, in the order their hooks run. */
  get pluginList(): readonly Plugin[] {
    return this.plugins.plugins;
  }

  /** Generations running and waiting right now. */
  get load(): { running: number; queued: number } {
    return { running: this.limiter.running, queued: this.limiter.queued };
  }

  /**
   * Routes and starts generating. Resolves once the provider has sent its first chunk, so errors
   * before streaming (model not found, backend down) reject here, after a fallback plugin had its chance.
   */
  async stream(request: HerdRequest, options: StreamOptions = {}): Promise<HerdStream> {
    validateRequest(request);
    // One controller per request, aborted only on cancel or the caller's abort: no AbortSignal.any
    // and no abort() of requests that finished (both cost on every request; see facade-profile.md).
    const controller = new AbortController();
    const signal = controller.signal;
    const detach = follow(options.signal, controller);
    const route = request.route;
    const routeOptions: RouteOptions = route ? { ...route } : {};
    const topExperts = request.topExperts ?? route?.topExperts;
    if (topExperts !== undefined) routeOptions.topExperts = topExperts;
    if (request.expert !== undefined) routeOptions.experts = [request.expert];
    const ctx: RequestContext = {
      id: request.id ?? randomUUID(),
      request,
      routeOptions,
      warnings: [],
      state: new Map(),
      experts: this.expertSource(),
      startedAt: Date.now(),
      signal,
      baseTarget: () => {
        const { warnings: _, ...target } = this.resolver.resolve(
          baseOnlyDecision(ctx.experts.baseModel),
          ctx.experts,
          this.provider.capabilities,
        );
        return target;
      },
    };
    let release: (() => void) | undefined;
    try {
      await this.prepare(ctx);
      release = await this.limiter.acquire(signal);
      const { iterator, first } = await this.open(ctx, options.stream ?? true);
      const free = release;
      return new PipelineStream(
        ctx,
        this.plugins,
        iterator,
        first,
        () => {
          free();
          detach();
        },
        controller,
        this.provider.name,
      );
    } catch (error) {
      release?.();
      detach();
      const normalized = normalizeError(error, signal);
      if (!isReported(normalized)) await this.plugins.error(ctx, normalized);
      this.plugins.end(ctx, { error: normalized });
      throw normalized;
    }
  }

  /** Runs a request to the end and returns the whole answer. */
  async generate(request: HerdRequest, options: StreamOptions = {}): Promise<HerdResponse> {
    const stream = await this.stream(request, { stream: false, ...options });
    return stream.collect();
  }

  /** Closes the plugins (timers, logs). The provider and router belong to the caller. */
  async close(): Promise<void> {
    await this.plugins.close();
  }

  private async prepare(ctx: RequestContext): Promise<void> {
    await this.plugins.run("onRequest", ctx);
    const known = ctx.experts.experts.map((e) => e.name);
    for (const name of ctx.routeOptions.experts ?? []) {
      if (!known.includes(name)) throw new UnknownExpertError(name, known);
    }
    ctx.signal?.throwIfAborted();
    const routeOptions = ctx.routeOptions;
    routeOptions.signal = ctx.signal;
    ctx.decision = await this.router.route(ctx.request.messages, routeOptions);
    await this.plugins.run("afterRouting", ctx);
    const target = this.resolver.resolve(ctx.decision, ctx.experts, this.provider.capabilities);
    ctx.warnings.push(...ctx.decision.warnings, ...target.warnings);
    ctx.chatRequest = this.chatRequest(ctx, target);
    await this.plugins.run("beforeGeneration", ctx);
  }

  /** Builds the provider request, turning settings the provider cannot honour into warnings. */
  private chatRequest(ctx: RequestContext, target: ResolvedTarget): ChatRequest {
    const { request } = ctx;
    const caps = this.provider.capabilities;
    const chat: ChatRequest = {
      target: { model: target.model, adapters: target.adapters, base: target.base },
      messages: request.messages,
      params: { ...request.params },
    };
    if (request.tools && request.tools.length > 0) {
      const forced = request.toolChoice === "required" || typeof request.toolChoice === "object";
      if (forced && !caps.forcedToolChoice) {
        throw new InvalidInputError(
          `Chat provider "${this.provider.name}" cannot enforce tool_choice ${JSON.stringify(request.toolChoice)} ` +
            '(it cannot constrain the answer to a tool call); use tool_choice "auto" or another provider.',
          "tool_choice",
        );
      }
      if (caps.tools) {
        chat.tools = request.tools;
        chat.toolChoice = request.toolChoice;
        if (request.parallelToolCalls !== undefined) chat.parallelToolCalls = request.parallelToolCalls;
      } else {
        ctx.warnings.push(
          `Chat provider "${this.provider.name}" cannot call tools; the tools were not sent.`,
        );
      }
    }
    if (request.params?.logprobs && !caps.logprobs) {
      throw new InvalidInputError(
        `Chat provider "${this.provider.name}" cannot return token log-probabilities; drop 'logprobs' or use a provider that has them (ollama).`,
        "logprobs",
      );
    }
    let format = request.responseFormat;
    if (format?.type === "json_schema" && !caps.jsonSchema) {
      ctx.warnings.push(
        `Chat provider "${this.provider.name}" cannot enforce a JSON schema; asking for plain JSON.`,
      );
      format = { type: "json" };
    }
    if (format) chat.responseFormat = format;
    return chat;
  }

  /** Opens the provider stream and waits for its first chunk, retrying once when a plugin recovers. */
  private async open(
    ctx: RequestContext,
    stream: boolean,
  ): Promise<{ iterator: AsyncIterator<ChatChunk>; first: IteratorResult<ChatChunk> }> {
    let recovered = false;
    for (;;) {
      const chatRequest = ctx.chatRequest!;
      const iterator = this.provider
        .stream(chatRequest, { signal: ctx.signal, stream })
        [Symbol.asyncIterator]();
      try {
        return { iterator, first: await iterator.next() };
      } catch (error) {
        const normalized = normalizeError(error, ctx.signal);
        const recovery = await this.plugins.error(ctx, normalized);
        if (!recovery || recovered || normalized instanceof AbortError) throw markReported(normalized);
        recovered = true;
        ctx.warnings.push(recovery.warning);
        ctx.chatRequest = { ...chatRequest, target: recovery.retry };
      }
    }
  }
}

function validateRequest(request: HerdRequest): void {
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    throw new InvalidInputError("messages must be a non-empty array of chat messages.", "messages");
  }
  for (const [i, message] of request.messages.entries()) {
    if (!["system", "user", "assistant", "tool"].includes(message?.role)) {
      throw new InvalidInputError(
        `messages[${i}].role must be "system", "user", "assistant" or "tool", got ${JSON.stringify(message?.role)}.`,
        `messages[${i}].role`,
      );
    }
    if (typeof message.content !== "string") {
      throw new InvalidInputError(`messages[${i}].content must be a string.`, `messages[${i}].content`);
    }
  }
  if (request.expert !== undefined && (typeof request.expert !== "string" || request.expert === "")) {
    throw new InvalidInputError("expert must be a non-empty expert name.", "expert");
  }
}

/**
 * Aborts `controller` when `outer` aborts (a caller's signal); returns a function that stops
 * following, to call once the request is over so long-lived signals do not collect listeners.
 */
function follow(outer: AbortSignal | undefined, controller: AbortController): () => void {
  if (!outer) return noop;
  if (outer.aborted) {
    controller.abort(outer.reason);
    return noop;
  }
  const onAbort = () => controller.abort(outer.reason);
  outer.addEventListener("abort", onAbort, { once: true });
  return () => outer.removeEventListener("abort", onAbort);
}

function noop(): void {}

/** A decision that selects no expert: what the resolver maps to the base model. */
function baseOnlyDecision(baseModel: string): RoutingDecision {
  return {
    ranked: [],
    selected: [],
    model: baseModel,
    strategy: "centroid",
    weighting: "inverse-distance",
    reason: "base-only",
    embedder: "",
    timings: { embedMs: 0, queryMs: 0, totalMs: 0 },
    warnings: [],
  };
}
