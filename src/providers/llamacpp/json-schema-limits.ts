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

/** The only `$ref` form node-llama-cpp's grammar builder follows. */
const REF_PREFIX = "#/$defs/";

/**
 * Refuses (400, InvalidInputError on `response_format`) a JSON schema too large to turn into a
 * llama.cpp grammar, before any grammar work starts, and one whose `$ref` the grammar builder would
 * not follow: node-llama-cpp replaces a reference it cannot resolve (`#/definitions/...`, a missing
 * name) with "any JSON" and one named like an Object.prototype member (`#/$defs/constructor`) with
 * `null`, either way answering with output the schema does not describe. Walks the schema without
 * recursion.
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
  /** A node, its depth, the `$defs` names in scope, and what it is. */
  const stack: [unknown, number, ReadonlySet<string>, NodeKind][] = [[format.schema, 1, new Set(), "schema"]];
  while (stack.length > 0) {
    const [node, depth, inScope, kind] = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (depth > JSON_SCHEMA_LIMITS.maxDepth) {
      throw refuse(`it nests deeper than ${JSON_SCHEMA_LIMITS.maxDepth} levels`);
    }
    let defs = inScope;
    const isSchema = kind === "schema" && !Array.isArray(node);
    if (isSchema) {
      const values = Object.hasOwn(node, "enum") ? (node as { enum: unknown }).enum : undefined;
      if (Array.isArray(values)) enumValues += values.length;
      if (Object.hasOwn(node, "const")) enumValues += 1;
      if (enumValues > JSON_SCHEMA_LIMITS.maxEnumValues) {
        throw refuse(`more than ${JSON_SCHEMA_LIMITS.maxEnumValues} enum/const values`);
      }
      defs = withDefs(inScope, node);
      if (Object.hasOwn(node, "$ref")) checkRef((node as { $ref: unknown }).$ref, defs);
    }
    for (const [key, child] of Array.isArray(node) ? node.entries() : Object.entries(node)) {
      if (typeof child !== "object" || child === null) continue;
      stack.push([child, depth + 1, defs, isSchema ? kindOf(String(key)) : kind === "map" ? "schema" : kind]);
    }
  }
}

/**
 * What a node of a schema document is: a schema, a map of named schemas (`properties`, `$defs`),
 * or a literal value (`enum`, `const`, `default`, `examples`), whose keys mean nothing.
 */
type NodeKind = "schema" | "map" | "literal";

const MAP_KEYWORDS = new Set(["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]);
const LITERAL_KEYWORDS = new Set(["enum", "const", "default", "examples"]);

/** The kind of the value of keyword `key` in a schema (arrays of schemas stay schemas). */
function kindOf(key: string): NodeKind {
  if (MAP_KEYWORDS.has(key)) return "map";
  if (LITERAL_KEYWORDS.has(key)) return "literal";
  return "schema";
}

/** The `$defs` names in scope at `node`: those of its ancestors plus its own. */
function withDefs(inScope: ReadonlySet<string>, node: object): ReadonlySet<string> {
  const defs = Object.hasOwn(node, "$defs") ? (node as { $defs: unknown }).$defs : undefined;
  if (typeof defs !== "object" || defs === null || Array.isArray(defs)) return inScope;
  return new Set([...inScope, ...Object.keys(defs)]);
}

function checkRef(ref: unknown, defs: ReadonlySet<string>): void {
  const shown = typeof ref === "string" ? JSON.stringify(ref.slice(0, 100)) : typeof ref;
  if (typeof ref !== "string" || !ref.startsWith(REF_PREFIX)) {
    throw new InvalidInputError(
      `The response_format JSON schema has "$ref": ${shown}; the llamacpp provider follows only references to "${REF_PREFIX}<name>" (move the definitions under "$defs").`,
      "response_format",
    );
  }
  const name = ref.slice(REF_PREFIX.length);
  if (!defs.has(name)) {
    throw new InvalidInputError(
      `The response_format JSON schema has "$ref": ${shown}, but no "$defs" around it defines ${JSON.stringify(name.slice(0, 100))}.`,
      "response_format",
    );
  }
}
