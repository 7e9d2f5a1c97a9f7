import { AbortError } from "./errors.js";

const reported = new WeakSet<object>();

/** Marks an error as already given to the onError hooks, so they see each failure once. */
export function markReported(error: unknown): unknown {
  if (typeof error === "object" && error !== null) reported.add(error);
  return error;
}

export function isReported(error: unknown): boolean {
  return typeof error === "object" && error !== null && reported.has(error);
}

/** Turns DOM/fetch abort errors into Herd's AbortError; keeps everything else. */
export function normalizeError(error: unknown, signal?: AbortSignal): unknown {
  if (error instanceof AbortError) return error;
  const name = (error as { name?: unknown } | null)?.name;
  if (signal?.aborted || name === "AbortError") {
    return new AbortError("The request was aborted.", { cause: error });
  }
  return error;
}
