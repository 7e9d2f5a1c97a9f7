import type { ChatMessage, ChatRequest, ToolChoice } from "../../core/chat.js";

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
  tools?: { type: "function"; function: { name: string; description?: string; parameters: object } }[];
  tool_choice?: "auto" | "none" | "required" | { type: "function"; function: { name: string } };
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

function toolChoice(choice: ToolChoice): OpenAIChatBody["tool_choice"] {
  return typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } };
}

/**
 * Builds the chat-completions body: messages, sampling, tools and response format. `stream` false
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
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      type: "function",
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parameters: t.parameters,
      },
    }));
    if (request.toolChoice) body.tool_choice = toolChoice(request.toolChoice);
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
