import type { ChatChunk, FinishReason, Usage } from "../../core/chat.js";
import { ProviderResponseError } from "../../core/errors.js";
import { type EngineErrorContext, engineError, parseEngineErrorBody } from "./engine-errors.js";
import { parseSse, type SseBody } from "./sse.js";

/** The most parallel tool calls one reply may carry. */
const MAX_TOOL_CALLS = 128;

interface WireToolCall {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface WireChoice {
  delta?: { content?: string | null; tool_calls?: WireToolCall[] };
  message?: { content?: string | null; tool_calls?: WireToolCall[] };
  finish_reason?: string | null;
}

interface WireCompletion {
  choices?: WireChoice[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: unknown;
}

/** Maps an OpenAI `finish_reason` to Herd's; tool calls win whatever the engine says. */
export function finishReasonOf(reason: string | null | undefined, sawToolCalls: boolean): FinishReason {
  if (sawToolCalls || reason === "tool_calls" || reason === "function_call") return "tool_calls";
  return reason === "length" ? "length" : "stop";
}

function usageOf(wire: WireCompletion["usage"]): Usage | undefined {
  if (!wire || typeof wire !== "object") return undefined;
  return { inputTokens: wire.prompt_tokens ?? 0, outputTokens: wire.completion_tokens ?? 0 };
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
 * `index`), then one `finish` with the usage of the `include_usage` chunk. An error event (OpenAI or
 * LoRAX shape) throws through `engineError`; a stream that ends without a finish reason throws.
 */
export async function* chatChunksFromSse(
  body: SseBody,
  context: EngineErrorContext,
  path: string,
  signal?: AbortSignal,
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
    if (delta?.content) yield { type: "text", text: delta.content };
    for (const [i, call] of (delta?.tool_calls ?? []).entries()) {
      sawToolCalls = true;
      yield toolCallChunk(call, i, context);
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
  if (choice.message.content) yield { type: "text", text: choice.message.content };
  const calls = choice.message.tool_calls ?? [];
  for (const [i, call] of calls.entries()) yield toolCallChunk(call, i, context);
  const finishReason = finishReasonOf(choice.finish_reason, calls.length > 0);
  const usage = usageOf(wire.usage);
  yield usage ? { type: "finish", finishReason, usage } : { type: "finish", finishReason };
}
