import type {
  ChatHistoryItem,
  ChatModelFunctionCall,
  ChatModelFunctions,
  ChatModelResponse,
  LLamaContextualRepeatPenalty,
} from "node-llama-cpp";
import type { ChatMessage, ChatRequest, ToolDefinition } from "../../core/chat.js";
import { InvalidInputError } from "../../core/errors.js";
import { allowedTools, forcedToolCallSchema, isForcedToolChoice } from "../../core/forced-tool-call.js";

/**
 * How the llama.cpp provider handles a request's tools: `none` (no tools, or tool_choice "none"),
 * `auto` (node-llama-cpp's chat-wrapper function calling: the model may call a function), or
 * `forced` (a JSON-schema grammar admits only a call of the allowed tools), or `forcedOne` (one
 * allowed tool: the grammar is its parameter schema, so the arguments stream as they are written).
 */
export type LlamaToolMode =
  | { kind: "none" }
  | { kind: "auto"; functions: ChatModelFunctions; maxParallel?: number }
  | { kind: "forced"; tools: ToolDefinition[]; schema: Record<string, unknown> }
  | { kind: "forcedOne"; tool: ToolDefinition; schema: Record<string, unknown> };

/** The tool mode of a request (see `LlamaToolMode`). */
export function toolMode(request: ChatRequest): LlamaToolMode {
  const tools = allowedTools(request.tools, request.toolChoice);
  if (tools.length === 0) return { kind: "none" };
  if (isForcedToolChoice(request.toolChoice)) {
    if (tools.length === 1)
      return { kind: "forcedOne", tool: tools[0]!, schema: toGbnfSchema(tools[0]!.parameters) };
    return { kind: "forced", tools, schema: toGbnfSchema(forcedToolCallSchema(tools, "oneOf")) };
  }
  const functions: Record<string, ChatModelFunctions[string]> = {};
  for (const tool of tools) {
    functions[tool.name] = {
      ...(tool.description ? { description: tool.description } : {}),
      params: toGbnfSchema(tool.parameters) as ChatModelFunctions[string]["params"],
    };
  }
  return request.parallelToolCalls === false
    ? { kind: "auto", functions, maxParallel: 1 }
    : { kind: "auto", functions };
}

/** Nesting depth `toGbnfSchema` follows; deeper parts are kept as they are. */
const MAX_SCHEMA_DEPTH = 32;

/**
 * A JSON schema in the dialect node-llama-cpp's grammar reads: `anyOf` becomes `oneOf` (it knows only
 * `oneOf`, and would otherwise drop the alternatives), everything else is kept.
 */
export function toGbnfSchema(schema: Record<string, unknown>, depth = 0): Record<string, unknown> {
  if (depth > MAX_SCHEMA_DEPTH) return schema;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(schema)) {
    const value = schema[key];
    const name = key === "anyOf" && !Object.hasOwn(schema, "oneOf") ? "oneOf" : key;
    out[name] = convert(value, depth + 1);
  }
  return out;
}

function convert(value: unknown, depth: number): unknown {
  if (Array.isArray(value)) return value.map((v) => convert(v, depth));
  if (typeof value === "object" && value !== null)
    return toGbnfSchema(value as Record<string, unknown>, depth);
  return value;
}

/**
 * Maps chat messages to node-llama-cpp's history, ending with the model turn to generate. An
 * assistant message's tool calls become function calls of its model turn, each with the result of
 * the tool message that answers it (by `toolCallId`, else by name, else in order); the turn then
 * continues after the results, as node-llama-cpp's own function calling does.
 */
export function toHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  let open:
    | { turn: ChatModelResponse; calls: { id: string; call: ChatModelFunctionCall; answered: boolean }[] }
    | undefined;
  messages.forEach((m, i) => {
    if (m.role === "tool") {
      const pending = open?.calls.filter((c) => !c.answered) ?? [];
      const match =
        pending.find((c) => m.toolCallId !== undefined && c.id === m.toolCallId) ??
        pending.find((c) => m.name !== undefined && c.call.name === m.name) ??
        pending[0];
      if (!match) {
        throw new InvalidInputError(
          `messages[${i}] is a tool result, but no earlier assistant message has an unanswered tool call${m.toolCallId ? ` with id "${m.toolCallId.slice(0, 64)}"` : ""}.`,
          `messages[${i}]`,
        );
      }
      match.answered = true;
      match.call.result = m.content;
      return;
    }
    if (m.role === "assistant") {
      // An answer after tool results continues the model turn that called the tools.
      const continuing = open !== undefined && open.calls.length > 0 && messages[i - 1]?.role === "tool";
      const turn: ChatModelResponse = continuing ? open!.turn : { type: "model", response: [] };
      if (m.content) turn.response.push(m.content);
      const calls = (m.toolCalls ?? []).map((c) => {
        const call: ChatModelFunctionCall = {
          type: "functionCall",
          name: c.name,
          params: c.arguments,
          result: "",
        };
        turn.response.push(call);
        return { id: c.id, call, answered: false };
      });
      if (!continuing) history.push(turn);
      open = { turn, calls: continuing ? [...open!.calls, ...calls] : calls };
      return;
    }
    open = undefined;
    history.push(
      m.role === "system" ? { type: "system", text: m.content } : { type: "user", text: m.content },
    );
  });
  if (history[history.length - 1]?.type !== "model") history.push({ type: "model", response: [] });
  return history;
}

/** node-llama-cpp's repeat penalty from Herd's repetition, presence and frequency penalties. */
export function repeatPenalty(p: ChatRequest["params"]): LLamaContextualRepeatPenalty | undefined {
  const out: LLamaContextualRepeatPenalty = {};
  if (p.repetitionPenalty !== undefined) out.penalty = p.repetitionPenalty;
  if (p.presencePenalty !== undefined) out.presencePenalty = p.presencePenalty;
  if (p.frequencyPenalty !== undefined) out.frequencyPenalty = p.frequencyPenalty;
  return Object.keys(out).length > 0 ? out : undefined;
}
