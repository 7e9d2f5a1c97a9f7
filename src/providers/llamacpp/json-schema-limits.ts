import type { ResponseFormat } from "../../core/chat.js";
import { InvalidInputError } from "../../core/errors.js";

/**
 * Bounds on a `json_schema` response format for llama.cpp. The grammar llama.cpp builds from a
 * schema grows with it and is checked on every generated token: an enum of 20,000 values took 16 s,
 * 60,000 took 231 s. Real structured-output schemas are far inside these limits.
 */
export const JSON_SCHEMA_LIMITS = {
  /** The schema as JSON, in bytes. */
  maxBytes: 64 * 1024,
  /** `enum` values and `const`s over the whole schema. */
  maxEnumValues: 1_000,
  /** Nesting of objects and arrays in the schema document (a nested property takes two levels). */
  maxDepth: 48,
} as const;

/**
 * Refuses (400, InvalidInputError on `response_format`) a JSON schema too large to turn into a
 * llama.cpp grammar, before any grammar work starts. Walks the schema without recursion.
 */
export function checkJsonSchemaLimits(format: ResponseFormat | undefined): void {
  if (format?.type !== "json_schema") return;
  const refuse = (problem: string) =>
    new InvalidInputError(
      `The response_format JSON schema is too large for the llamacpp provider: ${problem}. ` +
        "Use a smaller schema (e.g. fewer enum values, or a string field checked after generation).",
      "response_format",
    );
  const text = JSON.stringify(format.schema) ?? "";
  const bytes = Buffer.byteLength(text);
  if (bytes > JSON_SCHEMA_LIMITS.maxBytes) {
    throw refuse(`${bytes} bytes of JSON, at most ${JSON_SCHEMA_LIMITS.maxBytes}`);
  }
  let enumValues = 0;
  const stack: [unknown, number][] = [[format.schema, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (depth > JSON_SCHEMA_LIMITS.maxDepth) {
      throw refuse(`it nests deeper than ${JSON_SCHEMA_LIMITS.maxDepth} levels`);
    }
    if (!Array.isArray(node)) {
      const values = Object.hasOwn(node, "enum") ? (node as { enum: unknown }).enum : undefined;
      if (Array.isArray(values)) enumValues += values.length;
      if (Object.hasOwn(node, "const")) enumValues += 1;
      if (enumValues > JSON_SCHEMA_LIMITS.maxEnumValues) {
        throw refuse(`more than ${JSON_SCHEMA_LIMITS.maxEnumValues} enum/const values`);
      }
    }
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
}
