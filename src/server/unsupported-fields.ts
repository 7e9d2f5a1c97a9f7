import { chatCompletionRequestSchema } from "./request-schema.js";

/** The request fields Herd acts on (validated by the schema), plus `user` (kept as request metadata). */
const SUPPORTED = new Set<string>([...Object.keys(chatCompletionRequestSchema.shape), "user"]);

/**
 * Values of fields Herd cannot honour that change nothing anyway: sending them gets no warning.
 * OpenAI clients often send these defaults explicitly. A Map, so request keys such as `__proto__` or
 * `constructor` never match an inherited property.
 */
const HARMLESS = new Map<string, (value: unknown) => boolean>([
  ["presence_penalty", (v) => v === 0],
  ["frequency_penalty", (v) => v === 0],
  ["logprobs", (v) => v === false],
  ["top_logprobs", (v) => v === 0],
  ["parallel_tool_calls", (v) => v === true],
  ["store", (v) => v === false],
  ["service_tier", (v) => v === "auto" || v === "default"],
  ["logit_bias", (v) => typeof v === "object" && v !== null && Object.keys(v).length === 0],
  ["modalities", (v) => Array.isArray(v) && v.length === 1 && v[0] === "text"],
  ["metadata", () => true],
  ["prompt_cache_key", () => true],
  ["safety_identifier", () => true],
]);

/** How many field names a warning lists before it says "and N more". */
const MAX_LISTED = 8;

/**
 * The warnings for request fields that Herd ignores: unknown fields and OpenAI fields it cannot
 * honour (`logit_bias`, `audio`, ...). `null` values and harmless defaults are not reported.
 */
export function unsupportedFieldWarnings(body: Record<string, unknown>): string[] {
  const ignored: string[] = [];
  for (const key in body) {
    if (!Object.hasOwn(body, key)) continue;
    const value = body[key];
    if (value === null || value === undefined) continue;
    if (SUPPORTED.has(key)) continue;
    if (HARMLESS.get(key)?.(value)) continue;
    ignored.push(key.length > 64 ? `${key.slice(0, 64)}...` : key);
  }
  const warnings: string[] = [];
  if (ignored.length > 0) {
    const listed = ignored.slice(0, MAX_LISTED).join(", ");
    const more = ignored.length > MAX_LISTED ? ` and ${ignored.length - MAX_LISTED} more` : "";
    warnings.push(`Ignored unsupported fields: ${listed}${more}.`);
  }
  return warnings;
}
