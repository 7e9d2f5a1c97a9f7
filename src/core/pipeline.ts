import type {
  ChatChunk,
  ChatMessage,
  ChatRequest,
  FinishReason,
  GenerationParams,
  ResolvedTarget,
  ResponseFormat,
  ToolCall,
  ToolChoice,
  ToolDefinition,
  Usage,
} from "./chat.js";
import type { ExpertSet } from "./expert.js";
import type { RouteOptions, RoutingDecision } from "./routing.js";

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
  messages: ChatMessage[];
  params?: GenerationParams;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
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
  readonly target: ResolvedTarget;
  /** Warnings so far; plugins may append more while streaming (read it again after the loop). */
  readonly warnings: readonly string[];
}
