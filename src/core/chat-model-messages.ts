import type { BaseMessage } from "@langchain/core/messages";
import type { ChatMessage, ChatRole, ToolChoice, ToolDefinition } from "./chat.js";
import { InvalidInputError } from "./errors.js";

const ROLES: Record<string, ChatRole> = {
  human: "user",
  user: "user",
  ai: "assistant",
  assistant: "assistant",
  system: "system",
  developer: "system",
  tool: "tool",
};

function roleOf(message: BaseMessage, index: number): ChatRole {
  const type = message.type === "generic" ? String((message as { role?: unknown }).role) : message.type;
  const role = ROLES[type];
  if (!role) {
    throw new InvalidInputError(
      `messages[${index}] has the unsupported type "${type}"; use system, human, ai or tool messages.`,
      `messages[${index}]`,
    );
  }
  return role;
}

/** Content blocks that an AI message may carry beside its text; the backends take none of them. */
const DROPPED_AI_BLOCKS = new Set([
  "tool_call",
  "tool_call_chunk",
  "tool_use",
  "server_tool_call",
  "server_tool_call_result",
  "reasoning",
  "thinking",
  "redacted_thinking",
]);

type Block = { type?: string; text?: unknown; id?: unknown; name?: unknown; input?: unknown };

function textOf(message: BaseMessage, index: number, role: ChatRole): string {
  const content = message.content as unknown;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: Block | string) => {
      if (typeof part === "string") return part;
      if (part.type === "text" && typeof part.text === "string") return part.text;
      // Tool-call blocks repeat `tool_calls` (sent separately); reasoning and thinking blocks are the
      // model's own notes: dropped from history, as LangChain's chat models do for backends without them.
      if (part.type === "tool_call" || part.type === "tool_call_chunk") return "";
      if (role === "assistant" && DROPPED_AI_BLOCKS.has(String(part.type))) return "";
      throw new InvalidInputError(
        `messages[${index}] has a "${part.type}" content block; Herd sends text only. Remove it or describe it in text.`,
        `messages[${index}].content`,
      );
    })
    .join("");
}

/** Anthropic-style `tool_use` blocks of an AI message that carries no `tool_calls` of its own. */
function toolUseCalls(message: BaseMessage): { id?: string; name: string; args: Record<string, unknown> }[] {
  const content = message.content as unknown;
  if (!Array.isArray(content)) return [];
  return (content as Block[])
    .filter((b) => typeof b === "object" && b !== null && b.type === "tool_use" && typeof b.name === "string")
    .map((b) => ({
      ...(typeof b.id === "string" ? { id: b.id } : {}),
      name: b.name as string,
      args:
        typeof b.input === "object" && b.input !== null && !Array.isArray(b.input)
          ? (b.input as Record<string, unknown>)
          : {},
    }));
}

/** Converts LangChain messages to Herd's provider-neutral messages (tool calls and results included). */
export function toChatMessages(messages: readonly BaseMessage[]): ChatMessage[] {
  const toolNames = new Map<string, string>();
  return messages.map((message, index) => {
    const role = roleOf(message, index);
    const out: ChatMessage = { role, content: textOf(message, index, role) };
    const own = (message as { tool_calls?: { id?: string; name: string; args: Record<string, unknown> }[] })
      .tool_calls;
    const calls = own && own.length > 0 ? own : role === "assistant" ? toolUseCalls(message) : [];
    if (role === "assistant" && calls && calls.length > 0) {
      out.toolCalls = calls.map((call, i) => {
        const id = call.id ?? `call_${index}_${i}`;
        toolNames.set(id, call.name);
        return { id, name: call.name, arguments: call.args ?? {} };
      });
    }
    if (role === "tool") {
      const id = (message as { tool_call_id?: string }).tool_call_id;
      if (id) out.toolCallId = id;
      const name = message.name ?? (id ? toolNames.get(id) : undefined);
      if (name) out.name = name;
    }
    return out;
  });
}

/** An OpenAI-style tool (`{type:"function", function:{name, description, parameters}}`) as a Herd tool. */
export function toToolDefinition(tool: {
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}): ToolDefinition {
  const fn = tool.function;
  return {
    name: fn.name,
    ...(fn.description ? { description: fn.description } : {}),
    parameters: fn.parameters ?? { type: "object", properties: {} },
  };
}

/** Maps LangChain's `tool_choice` ("auto", "any", "none", "required", a name, or `{function:{name}}`). */
export function toToolChoice(choice: unknown): ToolChoice | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === "auto" || choice === "none" || choice === "required") return choice;
  if (choice === "any") return "required";
  if (typeof choice === "string") return { name: choice };
  const name =
    (choice as { function?: { name?: unknown }; name?: unknown }).function?.name ??
    (choice as { name?: unknown }).name;
  if (typeof name === "string") return { name };
  throw new InvalidInputError(
    `tool_choice ${JSON.stringify(choice)} is not understood; use "auto", "any", "none" or a tool name.`,
    "tool_choice",
  );
}
