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
  /** How many choices to generate (`n`). */
  choices: number;
  /** The request used the deprecated `functions`: answer with `function_call`, not `tool_calls`. */
  legacyFunctions: boolean;
  /** `logprobs: true`: the choices carry `logprobs.content`. */
  logprobs: boolean;
}

/** Translates a validated OpenAI request body into a Herd request, applying the facade's defaults. */
export function translateChatRequest(body: ChatCompletionRequestBody): TranslatedChatRequest {
  const request: HerdRequest = {
    messages: translateMessages(body.messages),
    params: translateParams(body),
  };
  // Without top_experts the router's own setting applies (1 unless the config says otherwise).
  if (body.top_experts !== undefined && body.top_experts !== null) request.topExperts = body.top_experts;
  const legacyFunctions = body.functions != null || body.function_call != null;
  if (legacyFunctions && (body.tools != null || body.tool_choice != null)) {
    throw new InvalidInputError(
      "Send either 'tools'/'tool_choice' or the deprecated 'functions'/'function_call', not both.",
      "functions",
    );
  }
  const { tools, toolChoice } = legacyFunctions ? legacyTools(body) : translateTools(body);
  if (tools.length > 0) request.tools = tools;
  if (toolChoice !== undefined && typeof toolChoice === "object") {
    const names = tools.map((t) => t.name);
    if (!names.includes(toolChoice.name)) {
      const field = legacyFunctions ? "function_call" : "tool_choice";
      throw new InvalidInputError(
        `Invalid '${field}': the function "${toolChoice.name.slice(0, 64)}" is not in '${legacyFunctions ? "functions" : "tools"}' (${names.join(", ") || "no tools given"}).`,
        field,
      );
    }
  }
  if (toolChoice === "required" && tools.length === 0) {
    throw new InvalidInputError(
      `Invalid '${legacyFunctions ? "function_call" : "tool_choice"}': "required" needs at least one tool in '${legacyFunctions ? "functions" : "tools"}'.`,
      legacyFunctions ? "function_call" : "tool_choice",
    );
  }
  if (toolChoice !== undefined) request.toolChoice = toolChoice;
  // The deprecated function calling answers with one call at most.
  if (legacyFunctions) request.parallelToolCalls = false;
  else if (body.parallel_tool_calls != null) request.parallelToolCalls = body.parallel_tool_calls;
  const responseFormat = translateResponseFormat(body.response_format);
  if (responseFormat !== undefined) request.responseFormat = responseFormat;
  if (body.top_logprobs != null && body.top_logprobs > 0 && body.logprobs !== true) {
    throw new InvalidInputError("'top_logprobs' needs 'logprobs: true'.", "top_logprobs");
  }
  return {
    request,
    model: body.model,
    stream: body.stream === true,
    includeUsage: body.stream === true && body.stream_options?.include_usage === true,
    choices: body.n ?? 1,
    legacyFunctions,
    logprobs: body.logprobs === true,
  };
}

/** `tools` and `tool_choice`; an `allowed_tools` choice narrows the tools to the ones it lists. */
function translateTools(body: ChatCompletionRequestBody): {
  tools: ToolDefinition[];
  toolChoice?: ToolChoice;
} {
  let tools = (body.tools ?? []).map((t) => translateTool(t.function));
  const choice = body.tool_choice;
  if (choice == null) return { tools };
  if (typeof choice === "string") return { tools, toolChoice: choice };
  if (choice.type === "function") return { tools, toolChoice: { name: choice.function.name } };
  const allowed = choice.allowed_tools.tools.map((t) => t.function.name);
  const known = new Set(tools.map((t) => t.name));
  const unknown = allowed.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `Invalid 'tool_choice.allowed_tools': ${unknown.map((n) => `"${n}"`).join(", ")} not in 'tools' (${[...known].join(", ") || "no tools given"}).`,
      "tool_choice.allowed_tools.tools",
    );
  }
  tools = tools.filter((t) => allowed.includes(t.name));
  return { tools, toolChoice: choice.allowed_tools.mode };
}

/** The deprecated `functions` / `function_call` as tools and a tool choice. */
function legacyTools(body: ChatCompletionRequestBody): { tools: ToolDefinition[]; toolChoice?: ToolChoice } {
  const tools = (body.functions ?? []).map(translateTool);
  const choice = body.function_call;
  if (choice == null) return { tools };
  return { tools, toolChoice: typeof choice === "string" ? choice : { name: choice.name } };
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
  if (body.presence_penalty != null && body.presence_penalty !== 0)
    params.presencePenalty = body.presence_penalty;
  if (body.frequency_penalty != null && body.frequency_penalty !== 0)
    params.frequencyPenalty = body.frequency_penalty;
  if (body.logprobs === true) {
    params.logprobs = true;
    if (body.top_logprobs != null && body.top_logprobs > 0) params.topLogprobs = body.top_logprobs;
  }
  return params;
}

/** Translates the messages; tool results get the name of the call they answer. */
export function translateMessages(messages: readonly ChatCompletionMessage[]): ChatMessage[] {
  const toolNames = new Map<string, string>();
  /** Deprecated function calls by name -> the id given to them. */
  const functionCalls = new Map<string, string>();
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
        const calls = [...(message.tool_calls ?? [])];
        // The deprecated single function call: a tool call with an id of our own, answered by a "function" message.
        if (message.function_call) {
          const id = `call_fn_${i}`;
          functionCalls.set(message.function_call.name, id);
          calls.push({ id, type: "function", function: message.function_call });
        }
        if (calls.length > 0) {
          out.toolCalls = calls.map((call): ToolCall => {
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
      case "function": {
        const out: ChatMessage = { role: "tool", content: message.content ?? "", name: message.name };
        const id = functionCalls.get(message.name);
        if (id !== undefined) out.toolCallId = id;
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

function translateTool(fn: NonNullable<ChatCompletionRequestBody["functions"]>[number]): ToolDefinition {
  const out: ToolDefinition = {
    name: fn.name,
    parameters: fn.parameters ?? { type: "object", properties: {} },
  };
  if (fn.description != null) out.description = fn.description;
  return out;
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
