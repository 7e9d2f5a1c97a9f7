import type { ToolChoice, ToolDefinition } from "./chat.js";

/**
 * Forced tool calls by constrained decoding: when `tool_choice` is "required" or names a tool, a
 * provider without a native tool_choice constrains the answer to the JSON document
 * `{"name": <one of the allowed tools>, "arguments": <that tool's parameters>}` and turns it into a
 * tool call. These helpers build that schema and read the answer back; they are provider-neutral.
 */

/** True when the choice obliges the model to call a tool ("required" or a named tool). */
export function isForcedToolChoice(choice: ToolChoice | undefined): choice is "required" | { name: string } {
  return choice === "required" || (typeof choice === "object" && choice !== null);
}

/** The tools a choice allows: none for "none", the named one, or all. */
export function allowedTools(
  tools: readonly ToolDefinition[] | undefined,
  choice: ToolChoice | undefined,
): ToolDefinition[] {
  if (!tools || choice === "none") return [];
  if (typeof choice === "object" && choice !== null) return tools.filter((t) => t.name === choice.name);
  return [...tools];
}

/**
 * The JSON schema of one call of one of `tools`: an object with the tool's `name` (a constant) and
 * its `arguments` (the tool's parameter schema); several tools are alternatives under `union`
 * ("oneOf" for node-llama-cpp, which does not read "anyOf"; llama.cpp's converter behind Ollama reads both).
 */
export function forcedToolCallSchema(
  tools: readonly ToolDefinition[],
  union: "oneOf" | "anyOf" = "oneOf",
): Record<string, unknown> {
  const one = (tool: ToolDefinition): Record<string, unknown> => ({
    type: "object",
    properties: { name: { const: tool.name }, arguments: tool.parameters },
    required: ["name", "arguments"],
    additionalProperties: false,
  });
  if (tools.length === 1) return one(tools[0]!);
  return { [union]: tools.map(one) };
}

/** A tool call read from a forced answer: the tool's name and its arguments as JSON text. */
export interface ParsedToolCall {
  name: string;
  arguments: string;
}

/**
 * Reads a forced answer (`{"name", "arguments"}`) back into a tool call. With `truncated` (the token
 * limit cut the answer), the text is a prefix of a valid document (the grammar saw to that): it is
 * closed so the call stays well-formed, and the caller reports finish reason "length".
 * Returns undefined when the text names none of the allowed tools.
 */
export function parseForcedToolCall(
  text: string,
  tools: readonly ToolDefinition[],
  truncated = false,
): ParsedToolCall | undefined {
  const value = parseJsonObject(text) ?? (truncated ? parseJsonObject(closeJsonPrefix(text)) : undefined);
  if (!value) return undefined;
  const name = value.name;
  if (typeof name !== "string" || !tools.some((t) => t.name === name)) return undefined;
  const args = value.arguments;
  const object = typeof args === "object" && args !== null && !Array.isArray(args) ? args : {};
  return { name, arguments: JSON.stringify(object) };
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** How far back `closeJsonPrefix` trims a dangling key, number or literal before giving up. */
const MAX_TRIM = 256;

/**
 * Completes a cut-off JSON document: closes an open string, then the open arrays and objects. When
 * the cut falls after a key or a colon, the dangling piece is trimmed (at most 256 characters).
 */
export function closeJsonPrefix(text: string): string {
  for (let cut = text.length; cut >= Math.max(0, text.length - MAX_TRIM); cut--) {
    const candidate = closeAt(text.slice(0, cut));
    if (candidate !== undefined && parseJsonObject(candidate) !== undefined) return candidate;
  }
  return text;
}

function closeAt(prefix: string): string | undefined {
  const stack: string[] = [];
  let inString = false;
  let escaped = false;
  for (const ch of prefix) {
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === "{") stack.push("}");
    else if (ch === "[") stack.push("]");
    else if (ch === "}" || ch === "]") {
      if (stack.pop() !== ch) return undefined;
    }
  }
  if (escaped) return undefined;
  let out = inString ? `${prefix}"` : prefix.replace(/[\s,]+$/, "");
  for (let i = stack.length - 1; i >= 0; i--) out += stack[i];
  return out;
}
