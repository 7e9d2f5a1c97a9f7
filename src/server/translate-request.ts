import type {
  ChatMessage,
  GenerationParams,
  ResponseFormat,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from "../core/chat.js";
import { InvalidInputError } from "../core/errors.js";
import type { HerdRequest } from "../core/pipeline.js";
import type { ChatCompletionMessage, ChatCompletionRequestBody } from "./request-schema.js";

/**
 * Herd's sampling defaults for the facade, the same as the original Herd server's.
 * A request field overrides each one.
 */
export const FACADE_DEFAULTS = {
  temperature: 0.5,
  topK: 50,
  topP: 1.0,
  repetitionPenalty: 1.0,
} as const;

/** An OpenAI chat request turned into Herd's vocabulary. */
export interface TranslatedChatRequest {
  /** The Herd request, without the model choice (see `resolveModel`). */
  request: HerdRequest;
  /** The model name as the client wrote it. */
  model: string;
  stream: boolean;
  /** `stream_options.include_usage`: send a usage chunk before `[DONE]`. */
  includeUsage: boolean;
}

/** Translates a validated OpenAI request body into a Herd request, applying the facade's defaults. */
export function translateChatRequest(body: ChatCompletionRequestBody): TranslatedChatRequest {
  const request: HerdRequest = {
    messages: translateMessages(body.messages),
    params: translateParams(body),
  };
  // Without top_experts the router's own setting applies (1 unless the config says otherwise).
  if (body.top_experts !== undefined && body.top_experts !== null) request.topExperts = body.top_experts;
  if (body.tools && body.tools.length > 0) request.tools = body.tools.map(translateTool);
  const toolChoice = translateToolChoice(body.tool_choice);
  if (toolChoice !== undefined && typeof toolChoice === "object") {
    const names = (request.tools ?? []).map((t) => t.name);
    if (!names.includes(toolChoice.name)) {
      throw new InvalidInputError(
        `Invalid 'tool_choice': the function "${toolChoice.name.slice(0, 64)}" is not in 'tools' (${names.join(", ") || "no tools given"}).`,
        "tool_choice",
      );
    }
  }
  if (toolChoice !== undefined) request.toolChoice = toolChoice;
  const responseFormat = translateResponseFormat(body.response_format);
  if (responseFormat !== undefined) request.responseFormat = responseFormat;
  return {
    request,
    model: body.model,
    stream: body.stream === true,
    includeUsage: body.stream === true && body.stream_options?.include_usage === true,
  };
}

function translateParams(body: ChatCompletionRequestBody): GenerationParams {
  const params: GenerationParams = {
    temperature: body.temperature ?? FACADE_DEFAULTS.temperature,
    topK: body.top_k ?? FACADE_DEFAULTS.topK,
    topP: body.top_p ?? FACADE_DEFAULTS.topP,
    repetitionPenalty: body.repetition_penalty ?? FACADE_DEFAULTS.repetitionPenalty,
  };
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens != null) params.maxTokens = maxTokens;
  if (body.stop != null) {
    const stop = (typeof body.stop === "string" ? [body.stop] : body.stop).filter((s) => s.length > 0);
    if (stop.length > 0) params.stop = stop;
  }
  if (body.seed != null) params.seed = body.seed;
  return params;
}

/** Translates the messages; tool results get the name of the call they answer. */
export function translateMessages(messages: readonly ChatCompletionMessage[]): ChatMessage[] {
  const toolNames = new Map<string, string>();
  return messages.map((message, i): ChatMessage => {
    const at = `messages[${i}]`;
    switch (message.role) {
      case "system":
      case "developer":
        return { role: "system", content: joinText(message.content, `${at}.content`) };
      case "user":
        return { role: "user", content: joinText(message.content, `${at}.content`) };
      case "assistant": {
        const content = message.content == null ? "" : joinText(message.content, `${at}.content`);
        const out: ChatMessage = { role: "assistant", content };
        if (message.tool_calls && message.tool_calls.length > 0) {
          out.toolCalls = message.tool_calls.map((call): ToolCall => {
            toolNames.set(call.id, call.function.name);
            return {
              id: call.id,
              name: call.function.name,
              arguments: parseArguments(call.function.arguments),
            };
          });
        }
        return out;
      }
      default: {
        const out: ChatMessage = {
          role: "tool",
          content: joinText(message.content, `${at}.content`),
          toolCallId: message.tool_call_id,
        };
        const name = toolNames.get(message.tool_call_id);
        if (name !== undefined) out.name = name;
        return out;
      }
    }
  });
}

type Part = { type: string; text?: unknown; refusal?: unknown };

/** A string, or the text of text parts joined by newlines. Image, audio and file parts are refused. */
function joinText(content: string | readonly Part[], param: string): string {
  if (typeof content === "string") return content;
  const texts: string[] = [];
  content.forEach((part, k) => {
    if (part.type === "text" && typeof part.text === "string") texts.push(part.text);
    else if (part.type === "refusal" && typeof part.refusal === "string") texts.push(part.refusal);
    else {
      throw new InvalidInputError(
        `Unsupported content part type '${String(part.type).slice(0, 40)}' at '${param}[${k}]': Herd serves text models, send text parts ({type: "text", text}) only.`,
        `${param}[${k}].type`,
      );
    }
  });
  return texts.join("\n");
}

/**
 * Tool call arguments arrive as a JSON string (OpenAI) and travel as an object (Herd). Text that is
 * not a JSON object travels as `{ _raw: text }`.
 */
function parseArguments(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // An agent echoes back what the model produced, even a call cut off by max_tokens (OpenAI accepts
    // it too): keep the conversation going with the text as it was rather than failing the request.
    return { _raw: text };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { _raw: text };
  return value as Record<string, unknown>;
}

function translateTool(tool: NonNullable<ChatCompletionRequestBody["tools"]>[number]): ToolDefinition {
  const out: ToolDefinition = {
    name: tool.function.name,
    parameters: tool.function.parameters ?? { type: "object", properties: {} },
  };
  if (tool.function.description != null) out.description = tool.function.description;
  return out;
}

function translateToolChoice(choice: ChatCompletionRequestBody["tool_choice"]): ToolChoice | undefined {
  if (choice == null) return undefined;
  if (typeof choice === "string") return choice;
  return { name: choice.function.name };
}

function translateResponseFormat(
  format: ChatCompletionRequestBody["response_format"],
): ResponseFormat | undefined {
  if (format == null) return undefined;
  switch (format.type) {
    case "text":
      return { type: "text" };
    case "json_object":
      return { type: "json" };
    case "json_schema": {
      const out: ResponseFormat = {
        type: "json_schema",
        schema: format.json_schema.schema ?? {},
        name: format.json_schema.name,
      };
      return out;
    }
  }
}
