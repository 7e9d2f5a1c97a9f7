import type {
  Message,
  ChatRequest as OllamaChatRequest,
  ChatResponse as OllamaChatResponse,
  Options as OllamaOptions,
  Tool as OllamaTool,
  ToolCall as OllamaToolCallBase,
} from "ollama";
import type { ChatMessage, ChatRequest, ToolDefinition } from "../../core/chat.js";
import { allowedTools, forcedToolCallSchema, isForcedToolChoice } from "../../core/forced-tool-call.js";

// The request and reply shapes come from the official `ollama` package's types (type-only imports,
// no runtime cost), extended with the fields its types lag behind the server on (ids since v0.12.10).

/** A tool call as /api/chat sends and takes it (`id` and `function.index` from v0.12.10). */
export type OllamaToolCall = OllamaToolCallBase & {
  id?: string;
  function: OllamaToolCallBase["function"] & { index?: number };
};

/** A message as Ollama's /api/chat takes it. */
export type OllamaMessage = Omit<Message, "tool_calls"> & {
  tool_calls?: OllamaToolCall[];
  /** On `role: "tool"` messages: the call answered (v0.12.10). */
  tool_call_id?: string;
};

/** The body of POST /api/chat. */
export type OllamaChatBody = Omit<OllamaChatRequest, "messages"> & {
  model: string;
  messages: OllamaMessage[];
};

/** One line of an /api/chat reply (a stream line, or the whole reply with `stream: false`). */
export type OllamaChatLine = Partial<Omit<OllamaChatResponse, "created_at" | "message">> & {
  /** RFC 3339 text on the wire (the client's type says Date: it converts). */
  created_at?: string;
  message?: Partial<OllamaMessage>;
  /** An error after streaming started. */
  error?: unknown;
};

export type { OllamaTool };

/** Maps a provider-neutral message to Ollama's shape (tool calls carry object arguments). */
export function toOllamaMessage(message: ChatMessage): OllamaMessage {
  const out: OllamaMessage = { role: message.role, content: message.content };
  if (message.toolCalls && message.toolCalls.length > 0) {
    out.tool_calls = message.toolCalls.map((call) => ({
      id: call.id,
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  if (message.role === "tool") {
    if (message.name) out.tool_name = message.name;
    if (message.toolCallId) out.tool_call_id = message.toolCallId;
  }
  return out;
}

function toOllamaTool(tool: ToolDefinition): OllamaTool {
  return {
    type: "function",
    function: {
      name: tool.name,
      ...(tool.description ? { description: tool.description } : {}),
      // Ollama passes the JSON schema through; the client's type lists only the common keywords.
      parameters: tool.parameters as NonNullable<OllamaTool["function"]["parameters"]>,
    },
  };
}

/** Ollama options from Herd's sampling params, over the provider's own defaults. */
export function toOllamaOptions(
  request: ChatRequest,
  defaults: Record<string, unknown> = {},
): Partial<OllamaOptions> {
  const p = request.params;
  const options: Partial<OllamaOptions> = { ...defaults };
  const set = <K extends keyof OllamaOptions>(key: K, value: OllamaOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set("temperature", p.temperature);
  set("top_k", p.topK);
  set("top_p", p.topP);
  set("repeat_penalty", p.repetitionPenalty);
  set("presence_penalty", p.presencePenalty);
  set("frequency_penalty", p.frequencyPenalty);
  set("stop", p.stop && p.stop.length > 0 ? p.stop : undefined);
  set("num_predict", p.maxTokens);
  set("seed", p.seed);
  return options;
}

/**
 * Builds the /api/chat body: model, messages, tools, format, options and logprobs.
 * Ollama has no `tool_choice`: "none" sends no tools; "required" and a named tool are enforced by
 * constrained decoding, with `format` set to a JSON schema that admits only a call of the allowed
 * tool(s) (`OllamaReplyTranslator` turns that answer into a tool call).
 */
export function toOllamaChatBody(
  request: ChatRequest,
  extra: { options?: Record<string, unknown>; keepAlive?: string | number } = {},
): OllamaChatBody {
  const body: OllamaChatBody = {
    model: request.target.model,
    messages: request.messages.map(toOllamaMessage),
    stream: true,
  };
  const tools = allowedTools(request.tools, request.toolChoice);
  if (tools.length > 0) body.tools = tools.map(toOllamaTool);
  const format = request.responseFormat;
  if (format?.type === "json") body.format = "json";
  if (format?.type === "json_schema") body.format = format.schema;
  if (tools.length > 0 && isForcedToolChoice(request.toolChoice)) {
    body.format = forcedToolCallSchema(tools, "anyOf");
  }
  const options = toOllamaOptions(request, extra.options);
  if (Object.keys(options).length > 0) body.options = options;
  if (request.params.logprobs) {
    body.logprobs = true;
    if (request.params.topLogprobs) body.top_logprobs = request.params.topLogprobs;
  }
  if (extra.keepAlive !== undefined) body.keep_alive = extra.keepAlive;
  return body;
}
