import { randomBytes } from "node:crypto";
import type { ChatChunk, ChatRequest, ToolDefinition } from "../../../core/chat.js";
import { ProviderResponseError } from "../../../core/errors.js";
import { allowedTools, isForcedToolChoice, parseForcedToolCall } from "../../../core/forced-tool-call.js";

/** Strings LoRAX reads as a choice, not as a tool's name. */
const RESERVED = new Set(["auto", "none"]);

/**
 * How LoRAX is made to call a tool. LoRAX's `tool_choice` takes "auto", "none" or a tool's name as a
 * plain string (router/src/lib.rs `ToolTypeDeserializer`; any other string is a name, so "required"
 * would name a tool that does not exist), and its "auto" grammar always offers a `no_tool` answer.
 * So a named tool (or "required" over one tool) is sent as that name, enforced by LoRAX's own tool
 * grammar; "required" over several tools is `schema`: Herd constrains the answer to a call of one of
 * them (`response_format` with a JSON schema, LoRAX's outlines grammar) and reads the call back.
 */
export type LoraxForcedCall =
  | { kind: "none" }
  | { kind: "name"; name: string }
  | { kind: "schema"; tools: ToolDefinition[] };

/** The forced-call plan for a request. */
export function loraxForcedCall(request: ChatRequest): LoraxForcedCall {
  if (!isForcedToolChoice(request.toolChoice)) return { kind: "none" };
  const tools = allowedTools(request.tools, request.toolChoice);
  if (tools.length === 0) return { kind: "none" };
  if (tools.length === 1 && !RESERVED.has(tools[0]!.name)) return { kind: "name", name: tools[0]!.name };
  return { kind: "schema", tools };
}

/**
 * Turns the chunks of a schema-constrained answer into one tool call: the text (`{"name",
 * "arguments"}`) is held back and parsed at the finish; a cut answer (finish "length") is closed.
 * Throws when the text is not a call of one of `tools` (LoRAX did not apply the schema).
 */
export async function* forcedCallChunks(
  chunks: AsyncIterable<ChatChunk>,
  tools: readonly ToolDefinition[],
  baseUrl: string,
): AsyncGenerator<ChatChunk> {
  let text = "";
  for await (const chunk of chunks) {
    if (chunk.type === "text") {
      text += chunk.text;
      continue;
    }
    if (chunk.type !== "finish") {
      yield chunk;
      continue;
    }
    const truncated = chunk.finishReason === "length";
    const parsed = parseForcedToolCall(text, tools, truncated);
    if (!parsed) {
      throw new ProviderResponseError(
        `LoRAX at ${baseUrl} did not follow the forced tool call schema (tool_choice "required"): it answered ${JSON.stringify(text.slice(0, 200))}.`,
        undefined,
        baseUrl,
      );
    }
    yield {
      type: "tool-call",
      index: 0,
      id: `call_${randomBytes(4).toString("hex")}`,
      name: parsed.name,
      argumentsDelta: parsed.arguments,
    };
    yield { ...chunk, finishReason: truncated ? "length" : "tool_calls" };
    return;
  }
}
