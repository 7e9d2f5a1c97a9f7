import type { ChatMessage, ChatRequest, ToolDefinition } from "../../core/chat.js";

/** A message as Ollama's /api/chat takes it. */
export interface OllamaMessage {
  role: string;
  content: string;
  tool_calls?: { id?: string; function: { name: string; arguments: Record<string, unknown> } }[];
  tool_name?: string;
  tool_call_id?: string;
}

/** A tool as Ollama takes it. */
export interface OllamaTool {
  type: "function";
  function: { name: string; description?: string; parameters: Record<string, unknown> };
}

/** The body of POST /api/chat. */
export interface OllamaChatBody {
  model: string;
  messages: OllamaMessage[];
  stream: true;
  tools?: OllamaTool[];
  format?: "json" | Record<string, unknown>;
  options?: Record<string, unknown>;
  keep_alive?: string | number;
}

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
      parameters: tool.parameters,
    },
  };
}

/**
 * Ollama has no `tool_choice`: `none` sends no tools, a named tool sends only that tool, and
 * `auto`/`required` send them all (the model decides).
 */
function selectTools(request: ChatRequest): ToolDefinition[] {
  const tools = request.tools ?? [];
  const choice = request.toolChoice;
  if (choice === "none") return [];
  if (choice && typeof choice === "object") return tools.filter((t) => t.name === choice.name);
  return tools;
}

/** Builds the /api/chat body: model, messages, tools, format and the sampling options. */
export function toOllamaChatBody(
  request: ChatRequest,
  extra: { options?: Record<string, unknown>; keepAlive?: string | number } = {},
): OllamaChatBody {
  const p = request.params;
  const options: Record<string, unknown> = { ...extra.options };
  const set = (key: string, value: unknown) => {
    if (value !== undefined) options[key] = value;
  };
  set("temperature", p.temperature);
  set("top_k", p.topK);
  set("top_p", p.topP);
  set("repeat_penalty", p.repetitionPenalty);
  set("stop", p.stop && p.stop.length > 0 ? p.stop : undefined);
  set("num_predict", p.maxTokens);
  set("seed", p.seed);

  const body: OllamaChatBody = {
    model: request.target.model,
    messages: request.messages.map(toOllamaMessage),
    stream: true,
  };
  const tools = selectTools(request);
  if (tools.length > 0) body.tools = tools.map(toOllamaTool);
  const format = request.responseFormat;
  if (format?.type === "json") body.format = "json";
  if (format?.type === "json_schema") body.format = format.schema;
  if (Object.keys(options).length > 0) body.options = options;
  if (extra.keepAlive !== undefined) body.keep_alive = extra.keepAlive;
  return body;
}
