import type { ChatMessage } from "../../../core/chat.js";
import type { OpenAIMessage } from "../../http/openai-chat-body.js";

/**
 * Messages as LoRAX's /v1/chat/completions reads them. Its `Message` has only `role`, `content` and
 * `name` (router/src/lib.rs), so `tool_calls` and `tool_call_id` would be dropped and the model would
 * see an empty assistant turn. An earlier tool call is therefore written into the assistant's content
 * in the JSON LoRAX's tool grammar makes the model produce (`{"function":{"_name":NAME,...arguments}}`),
 * and a tool result carries its tool's name.
 */
export function toLoraxMessages(messages: readonly ChatMessage[]): OpenAIMessage[] {
  const toolNames = new Map<string, string>();
  return messages.map((message) => {
    const calls = message.toolCalls ?? [];
    if (message.role === "assistant" && calls.length > 0) {
      for (const call of calls) toolNames.set(call.id, call.name);
      const json = calls.map((call) => JSON.stringify({ function: { _name: call.name, ...call.arguments } }));
      return { role: "assistant", content: [message.content, ...json].filter((s) => s !== "").join("\n") };
    }
    if (message.role === "tool") {
      const name = message.name ?? (message.toolCallId ? toolNames.get(message.toolCallId) : undefined);
      return name
        ? { role: "tool", content: message.content, name }
        : { role: "tool", content: message.content };
    }
    return { role: message.role, content: message.content };
  });
}
