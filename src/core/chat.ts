import type { ExpertSet } from "./expert.js";
import type { RoutingDecision } from "./routing.js";

/** A chat role, as every backend understands it. */
export type ChatRole = "system" | "user" | "assistant" | "tool";

/** A tool call made by the model, with parsed arguments. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

/** One chat message, provider-neutral. */
export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** On assistant messages: the tool calls the model made. */
  toolCalls?: ToolCall[];
  /** On tool messages: the id of the call this message answers. */
  toolCallId?: string;
  /** On tool messages: the tool's name. */
  name?: string;
}

/** A tool the model may call: a function with a JSON Schema for its arguments. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
}

/**
 * Whether and which tool the model must call: `auto` (the model decides), `none`, `required` (one of
 * the tools), or `{ name }` (that tool). `required` and a name are guarantees: a provider enforces
 * them (constrained decoding) or the request is refused (see `ChatProviderCapabilities.forcedToolChoice`).
 */
export type ToolChoice = "auto" | "none" | "required" | { name: string };

/** Constrains the text the model writes. */
export type ResponseFormat =
  | { type: "text" }
  | { type: "json" }
  | { type: "json_schema"; schema: Record<string, unknown>; name?: string };

/** Sampling and length settings. Absent fields use the backend's defaults. */
export interface GenerationParams {
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  stop?: string[];
  maxTokens?: number;
  seed?: number;
  /** OpenAI's presence penalty, -2..2: penalises tokens that appeared at all. */
  presencePenalty?: number;
  /** OpenAI's frequency penalty, -2..2: penalises tokens by how often they appeared. */
  frequencyPenalty?: number;
  /** Return the log-probability of each generated token (see `ChatProviderCapabilities.logprobs`). */
  logprobs?: boolean;
  /** With `logprobs`, also the k most likely alternatives at each position (0-20). */
  topLogprobs?: number;
}

/** The log-probability of one generated token, with the most likely alternatives when asked for. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  /** The k most likely tokens at this position (`GenerationParams.topLogprobs`). */
  topLogprobs?: { token: string; logprob: number }[];
}

/** What to run: a model name (name-selecting backends) and/or adapters with scales (native blending). */
export interface GenerationTarget {
  /** The model name to send (Ollama tag, served model name, or the base model). */
  model: string;
  /** Adapters and scales for backends that blend natively; empty for the base model. */
  adapters: { expert: string; scale: number }[];
  /** True when no expert applies and the base model answers. */
  base: boolean;
}

/** One generation request to a chat provider. */
export interface ChatRequest {
  target: GenerationTarget;
  messages: ChatMessage[];
  params: GenerationParams;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** False: at most one tool call per answer. @default true */
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
}

/** Why generation stopped. */
export type FinishReason = "stop" | "length" | "tool_calls";

/**
 * Token counts as the backend reported them. A provider sets `usage` on its finish chunk only with
 * both real counts, never a guessed 0 (see `tokenUsage`); without it the answer says so in a warning.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** One piece of a streamed answer. */
export type ChatChunk =
  /** Text, with the log-probabilities of its tokens when `params.logprobs` asked for them. */
  | { type: "text"; text: string; logprobs?: TokenLogprob[] }
  /**
   * A tool call or a piece of one. Backends that send whole calls (Ollama) send one chunk per call
   * with the complete JSON; streaming backends send `id`/`name` first, then argument pieces by `index`.
   */
  | { type: "tool-call"; index: number; id?: string; name?: string; argumentsDelta: string }
  | { type: "finish"; finishReason: FinishReason; usage?: Usage };

/** What a chat provider can do. */
export interface ChatProviderCapabilities {
  /** Applies several adapters with scales in one pass (llama.cpp, llama-server). */
  nativeBlend: boolean;
  /** Passes tool definitions and tool calls through. */
  tools: boolean;
  /** Can constrain output to a JSON Schema. */
  jsonSchema: boolean;
  /**
   * Enforces `toolChoice` "required" and a named tool (constrained decoding or a native tool_choice).
   * Without it such requests are refused with a 400. @default false
   */
  forcedToolChoice?: boolean;
  /** Returns token log-probabilities (`params.logprobs`); without it such requests get a 400. @default false */
  logprobs?: boolean;
}

/** Options for one provider call. */
export interface ChatCallOptions {
  signal?: AbortSignal;
  /**
   * False when the caller wants the whole answer at once: a provider may then ask its backend for
   * one JSON reply instead of a stream (the chunks it yields are the same). @default true
   */
  stream?: boolean;
}

/**
 * A generation backend: Ollama, embedded llama.cpp, an OpenAI-compatible server.
 * `stream` yields text and tool-call chunks as they arrive and ends with exactly one `finish` chunk.
 */
export interface ChatProvider {
  /** The registry name, e.g. `ollama`. */
  readonly name: string;
  readonly capabilities: ChatProviderCapabilities;
  stream(request: ChatRequest, options?: ChatCallOptions): AsyncIterable<ChatChunk>;
  /** Checks the backend is reachable; throws ProviderUnavailableError with its address when not. */
  health(): Promise<void>;
  /**
   * Learns what the backend serves and checks it can serve every expert, before the first request.
   * Throws a ConfigError naming the fix when it cannot; an unreachable backend is not fatal here.
   */
  prepare?(options?: ChatCallOptions): Promise<void>;
  /** The model names the backend serves now (name-selecting backends), e.g. to find built blend variants. */
  listModels?(options?: ChatCallOptions): Promise<string[]>;
  /**
   * Gets ready for another expert set at run time (`Herd.reloadExperts`, POST /admin/experts/reload):
   * when an expert is new or changed, reads what the backend serves now, loads what it can load while
   * running, and checks it can serve `next` (its new and changed experts at least). From then on it
   * serves the experts of both sets until `commit`. Throws ExpertsNotServedError naming the fix when
   * the backend answers that it cannot serve one; nothing has changed then. A backend that cannot be
   * reached is a warning, as at start-up. Without this method a reload trusts the backend.
   */
  reloadExperts?(change: ExpertSetUpdate, options?: ChatCallOptions): Promise<ProviderExpertReload>;
  close?(): Promise<void>;
}

/** The expert set a Herd serves now and the one it is about to serve (see `ChatProvider.reloadExperts`). */
export interface ExpertSetUpdate {
  current: ExpertSet;
  next: ExpertSet;
}

/** A provider ready for another expert set: what it noted, and the switch. */
export interface ProviderExpertReload {
  /** Non-fatal notes for the reload's answer (a backend that could not be checked, blends left out). */
  warnings: string[];
  /**
   * Serves exactly `served` from now on: the router's expert set once it has switched (the new set,
   * or part old, part new when the router failed half-way). Synchronous, so no request sees half of it.
   */
  commit(served: ExpertSet): void;
}

/** A generation target plus the non-fatal notes made while choosing it. */
export interface ResolvedTarget extends GenerationTarget {
  warnings: string[];
}

/** Maps a routing decision to what the provider runs (expert model, blend variant, adapter scales, base). */
export interface BlendResolver {
  resolve(
    decision: RoutingDecision,
    experts: ExpertSet,
    capabilities: ChatProviderCapabilities,
  ): ResolvedTarget;
  /** Learns what the provider can serve (e.g. which blend variants exist) before the first request. */
  prepare?(provider: ChatProvider): Promise<void>;
}
