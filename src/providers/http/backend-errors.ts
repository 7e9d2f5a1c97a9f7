/** How the backend client names what went wrong: unreachable, timed out, aborted, or the backend's own error text. */
import { AbortError, BackendTimeoutError, HerdError, ProviderUnavailableError } from "../../core/errors.js";
import type { BackendTimeouts } from "../../core/timeouts.js";
import type { BackendInfo } from "./backend-request.js";

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ETIMEDOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function connectionCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && e && typeof e === "object"; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  if (error instanceof TypeError && /fetch failed|Failed to fetch|network ?error/i.test(error.message))
    return "network error";
  return undefined;
}

/** Maps what sending a request threw to a Herd error naming the backend and the fix. */
export function requestError(backend: BackendInfo, error: unknown, signal?: AbortSignal): HerdError {
  if (HerdError.isInstance(error)) return error;
  if (signal?.aborted || (error as { name?: string })?.name === "AbortError") {
    return new AbortError(`The request to ${backend.service} was aborted.`, { cause: error });
  }
  const code = connectionCode(error);
  if (code) {
    return new ProviderUnavailableError(
      `Cannot reach ${backend.service} at ${backend.baseUrl} (${code}). ${backend.unreachableHint}`,
      backend.baseUrl,
      { cause: error },
    );
  }
  return new ProviderUnavailableError(
    `Request to ${backend.service} at ${backend.baseUrl} failed: ${(error as Error)?.message ?? String(error)}`,
    backend.baseUrl,
    { cause: error },
  );
}

const PHASES: Record<keyof BackendTimeouts, string> = {
  connectMs: "could not be connected to",
  firstByteMs: "sent no response",
  idleMs: "went silent in the middle of its response",
  totalMs: "did not finish its response",
};

/** The error for a limit that ran out, naming the backend, the path, the limit and how to raise it. */
export function timeoutError(
  backend: BackendInfo,
  path: string,
  phase: keyof BackendTimeouts,
  ms: number,
): BackendTimeoutError {
  const flag = phase === "firstByteMs" || phase === "idleMs" ? " (herd serve --timeout SECONDS)" : "";
  return new BackendTimeoutError(
    `${backend.service} at ${backend.baseUrl} ${PHASES[phase]} within ${ms / 1000} s (timeouts.${phase}) for ` +
      `${path.split("?")[0]}; the request was aborted. Check that the backend is healthy, or raise timeouts.${phase}${flag}.`,
    phase,
    backend.baseUrl,
  );
}

/** Extracts the error text of a backend reply: `{"error":"..."}`, `{"error":{"message":...}}`, `{"message":...}` or text. */
export function errorTextOf(body: string): string {
  try {
    const data = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (typeof data.error === "string") return data.error;
    if (
      data.error &&
      typeof data.error === "object" &&
      typeof (data.error as { message?: unknown }).message === "string"
    ) {
      return (data.error as { message: string }).message;
    }
    if (typeof data.message === "string") return data.message;
  } catch {
    // not JSON: use the text
  }
  return body.trim().slice(0, 500);
}
