import type { ChatChunk, ChatRequest, FinishReason, TokenLogprob, Usage } from "../../core/chat.js";
import { ProviderResponseError } from "../../core/errors.js";
import { tokenUsage } from "../../core/usage.js";
import { type EngineErrorContext, engineError, parseEngineErrorBody } from "./engine-errors.js";
import { parseSse, type SseBody } from "./sse.js";

/** The most parallel tool calls one reply may carry. */
const MAX_TOOL_CALLS = 128;

interface WireToolCall {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface WireLogprob {
  token?: unknown;
  logprob?: unknown;
  top_logprobs?: unknown;
}

interface WireChoice {
  delta?: { content?: string | null; tool_calls?: WireToolCall[] };
  message?: { content?: string | null; tool_calls?: WireToolCall[] };
  logprobs?: { content?: unknown } | null;
  finish_reason?: string | null;
}

/** What the caller asked of a reply beyond the text. */
export interface ChatReplyOptions {
  /** Log-probabilities asked for: keep `choices[].logprobs.content` with at most `top` alternatives. */
  logprobs?: { top: number };
  /** False: only the first tool call is kept (`parallel_tool_calls: false`). @default true */
  parallelToolCalls?: boolean;
}

/** The reply options a request implies: its logprobs (with `topLogprobs` alternatives) and parallel calls. */
export function chatReplyOptions(request: ChatRequest): ChatReplyOptions {
  const options: ChatReplyOptions = {};
  if (request.params.logprobs) options.logprobs = { top: request.params.topLogprobs ?? 0 };
  if (request.parallelToolCalls === false) options.parallelToolCalls = false;
  return options;
}

/** The most log-probability entries read from one chunk or reply. */
const MAX_LOGPROBS = 65_536;

/**
 * OpenAI's `logprobs.content` (`[{token, logprob, bytes, top_logprobs}]`, as vLLM and llama-server
 * send it) in Herd's shape, with at most `top` alternatives per token; entries that are not
 * `{token: string, logprob: number}` are skipped.
 */
export function tokenLogprobsOf(content: unknown, top: number): TokenLogprob[] {
  if (!Array.isArray(content)) return [];
  const out: TokenLogprob[] = [];
  for (const entry of content.slice(0, MAX_LOGPROBS) as WireLogprob[]) {
    if (typeof entry?.token !== "string" || typeof entry.logprob !== "number") continue;
    const item: TokenLogprob = { token: entry.token, logprob: entry.logprob };
    if (top > 0) {
      const alternatives = Array.isArray(entry.top_logprobs) ? (entry.top_logprobs as WireLogprob[]) : [];
      item.topLogprobs = alternatives
        .filter((a) => typeof a?.token === "string" && typeof a.logprob === "number")
        .slice(0, top)
        .map((a) => ({ token: a.token as string, logprob: a.logprob as number }));
    }
    out.push(item);
  }
  return out;
}

function textChunk(text: string, choice: WireChoice, options: ChatReplyOptions): ChatChunk {
  if (!options.logprobs) return { type: "text", text };
  const logprobs = tokenLogprobsOf(choice.logprobs?.content, options.logprobs.top);
  return logprobs.length > 0 ? { type: "text", text, logprobs } : { type: "text", text };
}

interface WireCompletion {
  choices?: WireChoice[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } | null;
  error?: unknown;
}

/** Maps an OpenAI `finish_reason` to Herd's; tool calls win whatever the engine says. */
export function finishReasonOf(reason: string | null | undefined, sawToolCalls: boolean): FinishReason {
  if (sawToolCalls || reason === "tool_calls" || reason === "function_call") return "tool_calls";
  return reason === "length" ? "length" : "stop";
}

/** The reply's `usage`, when it has both counts (LoRAX's `completion_tokens` may be null). */
function usageOf(wire: WireCompletion["usage"]): Usage | undefined {
  if (!wire || typeof wire !== "object") return undefined;
  return tokenUsage(wire.prompt_tokens, wire.completion_tokens);
}

function toolCallChunk(call: WireToolCall, fallbackIndex: number, context: EngineErrorContext): ChatChunk {
  const index = typeof call.index === "number" ? call.index : fallbackIndex;
  if (!Number.isInteger(index) || index < 0 || index >= MAX_TOOL_CALLS) {
    throw new ProviderResponseError(
      `${context.service} at ${context.baseUrl} sent a tool call with index ${String(call.index)}; at most ${MAX_TOOL_CALLS} are accepted.`,
      undefined,
      context.baseUrl,
    );
  }
  const chunk: ChatChunk = { type: "tool-call", index, argumentsDelta: call.function?.arguments ?? "" };
  if (call.id) chunk.id = call.id;
  if (call.function?.name) chunk.name = call.function.name;
  return chunk;
}

function parseData(data: string, context: EngineErrorContext): WireCompletion {
  try {
    return JSON.parse(data) as WireCompletion;
  } catch (cause) {
    throw new ProviderResponseError(
      `${context.service} at ${context.baseUrl} sent a stream event that is not JSON: ${data.slice(0, 200)}`,
      undefined,
      context.baseUrl,
      { cause },
    );
  }
}

function errorOf(wire: WireCompletion, context: EngineErrorContext, path: string): Error | undefined {
  if (!wire.error) return undefined;
  const body = parseEngineErrorBody(wire) ?? { message: JSON.stringify(wire.error).slice(0, 300) };
  return engineError(context, undefined, body, path);
}

/**
 * Turns an OpenAI chat-completions SSE stream into Herd chunks: text deltas, tool-call deltas (by
 * `index`), then one `finish` with the last `usage` the stream carried (vLLM's and llama-server's
 * `include_usage` chunk, LoRAX's finish chunk); none when it carried no complete counts. An error
 * event (OpenAI or LoRAX shape) throws through `engineError`; a stream that ends without a finish
 * reason throws.
 * With `options.logprobs`, text chunks carry their tokens' log-probabilities; with
 * `parallelToolCalls: false`, tool calls after the first are dropped.
 */
export async function* chatChunksFromSse(
  body: SseBody,
  context: EngineErrorContext,
  path: string,
  signal?: AbortSignal,
  options: ChatReplyOptions = {},
): AsyncGenerator<ChatChunk> {
  let finish: string | null | undefined;
  let usage: Usage | undefined;
  let sawToolCalls = false;
  for await (const event of parseSse(body, { signal })) {
    if (event.data.trim() === "[DONE]") break;
    const wire = parseData(event.data, context);
    const error = errorOf(wire, context, path);
    if (error) throw error;
    usage = usageOf(wire.usage) ?? usage;
    const choice = wire.choices?.[0];
    if (!choice) continue;
    const delta = choice.delta ?? choice.message;
    if (delta?.content) yield textChunk(delta.content, choice, options);
    for (const [i, call] of (delta?.tool_calls ?? []).entries()) {
      sawToolCalls = true;
      const chunk = toolCallChunk(call, i, context);
      if (options.parallelToolCalls === false && chunk.type === "tool-call" && chunk.index > 0) continue;
      yield chunk;
    }
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  if (!finish) {
    throw new ProviderResponseError(
      `${context.service} at ${context.baseUrl} closed the ${path} stream before a finish_reason: it may have crashed or restarted; check its log.`,
      undefined,
      context.baseUrl,
    );
  }
  const finishReason = finishReasonOf(finish, sawToolCalls);
  yield usage ? { type: "finish", finishReason, usage } : { type: "finish", finishReason };
}

/** Turns one non-streamed chat completion into the same chunks a stream would give. */
export function* chatChunksFromJson(
  data: unknown,
  context: EngineErrorContext,
  path: string,
  options: ChatReplyOptions = {},
): Generator<ChatChunk> {
  const wire = (data ?? {}) as WireCompletion;
  const error = errorOf(wire, context, path);
  if (error) throw error;
  const choice = wire.choices?.[0];
  if (!choice?.message) {
    throw new ProviderResponseError(
      `${context.service} at ${context.baseUrl} answered ${path} without choices[0].message.`,
      undefined,
      context.baseUrl,
    );
  }
  if (choice.message.content) yield textChunk(choice.message.content, choice, options);
  const all = choice.message.tool_calls ?? [];
  const calls = options.parallelToolCalls === false ? all.slice(0, 1) : all;
  for (const [i, call] of calls.entries()) yield toolCallChunk(call, i, context);
  const finishReason = finishReasonOf(choice.finish_reason, calls.length > 0);
  const usage = usageOf(wire.usage);
  yield usage ? { type: "finish", finishReason, usage } : { type: "finish", finishReason };
}
