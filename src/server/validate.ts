import type { z } from "zod";
import { InvalidInputError } from "../core/errors.js";

/** Parses `value` with `schema`, or throws an `InvalidInputError` naming the first bad field. */
export function validate<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = formatPath(issue.path);
  if (param === "") {
    throw new InvalidInputError(`Invalid request body: ${issue.message}. Send a JSON object.`);
  }
  const missing = issue.code === "invalid_type" && issue.message.endsWith("received undefined");
  const message = missing
    ? `Missing required field '${param}'.`
    : `Invalid value for '${param}': ${issue.message.replace(/^Invalid input: /, "")}.`;
  throw new InvalidInputError(message, param, {
    code: missing ? "missing_required_parameter" : "invalid_value",
  });
}

/** `["messages", 0, "content"]` -> `messages[0].content`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out.length > 200 ? `${out.slice(0, 200)}...` : out;
}
