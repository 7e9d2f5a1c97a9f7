import type { ChatMessage, ChatRequest, ToolChoice } from "../../core/chat.js";
import { allowedTools } from "../../core/forced-tool-call.js";

/** A message in the OpenAI chat-completions wire format. */
export interface OpenAIMessage {
  role: string;
  content: string | null;
  tool_calls?: { id: string; type: "function"; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
  name?: string;
}

/** The body of POST /v1/chat/completions as Herd sends it (engine extras are added by each provider). */
export interface OpenAIChatBody {
  model: string;
  messages: OpenAIMessage[];
  stream: boolean;
  stream_options?: { include_usage: boolean };
  temperature?: number;
  top_p?: number;
  top_k?: number;
  max_tokens?: number;
  stop?: string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  logprobs?: boolean;
  top_logprobs?: number;
  tools?: { type: "function"; function: { name: string; description?: string; parameters: object } }[];
  tool_choice?: "auto" | "none" | "required" | { type: "function"; function: { name: string } } | string;
  parallel_tool_calls?: boolean;
  response_format?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** Engine differences in the body. */
export interface OpenAIBodyDialect {
  /** The key for the repetition penalty: vLLM and LoRAX `repetition_penalty`, llama-server `repeat_penalty`. */
  repetitionPenaltyKey: string;
  /**
   * What `top_k` 0 (off, as the facade and Ollama mean it) is sent as: vLLM reads off as -1 (older
   * releases refuse 0), llama-server as 0; LoRAX refuses anything below 1 and is off by default.
   * @default top_k left out
   */
  topKOff?: number;
  /** Sends `response_format` json_schema as LoRAX does (`{type:"json_object", schema}`). @default false */
  schemaAsJsonObject?: boolean;
  /**
   * How a forced `tool_choice` reaches the engine. `native`: as OpenAI spells it (vLLM). `required`:
   * a named tool becomes `"required"` over that tool alone (llama-server reads only the strings
   * auto/none/required and takes any other value as auto). @default "native"
   */
  forcedToolChoice?: "native" | "required";
  /** Sends `logprobs`/`top_logprobs`. @default false */
  logprobs?: boolean;
  /** The least `top_logprobs` to send with `logprobs` (llama-server returns none at 0). @default 0 */
  minTopLogprobs?: number;
  /** Sends `parallel_tool_calls` with tools (explicitly, as llama-server's default is off). @default false */
  parallelToolCalls?: boolean;
}

/** Maps a provider-neutral message to the OpenAI shape (tool-call arguments become JSON strings). */
export function toOpenAIMessage(message: ChatMessage): OpenAIMessage {
  const out: OpenAIMessage = { role: message.role, content: message.content };
  if (message.toolCalls && message.toolCalls.length > 0) {
    out.tool_calls = message.toolCalls.map((call) => ({
      id: call.id,
      type: "function",
      function: { name: call.name, arguments: JSON.stringify(call.arguments) },
    }));
    if (message.content === "") out.content = null;
  }
  if (message.role === "tool" && message.toolCallId) out.tool_call_id = message.toolCallId;
  return out;
}

function toolChoice(choice: ToolChoice, dialect: OpenAIBodyDialect): OpenAIChatBody["tool_choice"] {
  if (typeof choice === "string") return choice;
  return dialect.forcedToolChoice === "required"
    ? "required"
    : { type: "function", function: { name: choice.name } };
}

/**
 * Builds the chat-completions body: messages, sampling (penalties included), logprobs, tools with
 * `tool_choice` and `parallel_tool_calls`, and response format, as `dialect` says. `stream` false
 * asks for one JSON reply; true asks for SSE with a final usage chunk (`stream_options.include_usage`).
 */
export function toOpenAIChatBody(
  request: ChatRequest,
  model: string,
  stream: boolean,
  dialect: OpenAIBodyDialect,
): OpenAIChatBody {
  const p = request.params;
  const body: OpenAIChatBody = { model, messages: request.messages.map(toOpenAIMessage), stream };
  if (stream) body.stream_options = { include_usage: true };
  if (p.temperature !== undefined) body.temperature = p.temperature;
  if (p.topP !== undefined) body.top_p = p.topP;
  if (p.topK !== undefined && p.topK > 0) body.top_k = p.topK;
  else if (p.topK !== undefined && dialect.topKOff !== undefined) body.top_k = dialect.topKOff;
  if (p.repetitionPenalty !== undefined) body[dialect.repetitionPenaltyKey] = p.repetitionPenalty;
  if (p.maxTokens !== undefined) body.max_tokens = p.maxTokens;
  if (p.stop && p.stop.length > 0) body.stop = p.stop;
  if (p.seed !== undefined) body.seed = p.seed;
  if (p.presencePenalty !== undefined) body.presence_penalty = p.presencePenalty;
  if (p.frequencyPenalty !== undefined) body.frequency_penalty = p.frequencyPenalty;
  if (p.logprobs && dialect.logprobs) {
    body.logprobs = true;
    body.top_logprobs = Math.max(p.topLogprobs ?? 0, dialect.minTopLogprobs ?? 0);
  }
  const choice = request.toolChoice;
  // A named tool sent as "required" must be the only tool the engine sees.
  const tools =
    typeof choice === "object" && dialect.forcedToolChoice === "required"
      ? allowedTools(request.tools, choice)
      : (request.tools ?? []);
  if (tools.length > 0) {
    body.tools = tools.map((t) => ({
      type: "function",
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parameters: t.parameters,
      },
    }));
    if (choice) body.tool_choice = toolChoice(choice, dialect);
    if (dialect.parallelToolCalls) body.parallel_tool_calls = request.parallelToolCalls !== false;
  }
  const format = request.responseFormat;
  if (format?.type === "json") body.response_format = { type: "json_object" };
  if (format?.type === "json_schema") {
    body.response_format = dialect.schemaAsJsonObject
      ? { type: "json_object", schema: format.schema }
      : { type: "json_schema", json_schema: { name: format.name ?? "response", schema: format.schema } };
  }
  return body;
}
