import { AbortError, ProviderResponseError, ProviderUnavailableError } from "../../core/errors.js";
import { keepAliveFetch } from "./keep-alive-fetch.js";

/** Describes the backend behind a URL, for error messages that say how to fix the problem. */
export interface BackendInfo {
  /** A human name, e.g. `Ollama`. */
  service: string;
  /** The base URL, named in every error. */
  baseUrl: string;
  /** What to do when the backend cannot be reached, e.g. "Start it with `ollama serve` or pass --ollama-url." */
  unreachableHint: string;
  /** The fetch to use. @default keepAliveFetch (http.request with keep-alive agents) */
  fetch?: typeof fetch;
  /**
   * Builds the error for a non-2xx reply from its status, body text and path (engines with their own
   * error shapes). @default ProviderResponseError with the body's message
   */
  toError?: (status: number, body: string, path: string) => Error;
}

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

/**
 * The one fetch wrapper for backends: maps a refused connection to ProviderUnavailableError
 * (naming the URL and the fix), an abort to AbortError, and a non-2xx reply to
 * ProviderResponseError carrying the backend's status and message. Returns the ok Response.
 */
export async function providerFetch(
  backend: BackendInfo,
  path: string,
  init: RequestInit & { signal?: AbortSignal | null },
): Promise<Response> {
  const url = new URL(
    path,
    backend.baseUrl.endsWith("/") ? backend.baseUrl : `${backend.baseUrl}/`,
  ).toString();
  let response: Response;
  try {
    response = await (backend.fetch ?? keepAliveFetch)(url, init);
  } catch (error) {
    if (init.signal?.aborted || (error as { name?: string })?.name === "AbortError") {
      throw new AbortError(`The request to ${backend.service} was aborted.`, { cause: error });
    }
    const code = connectionCode(error);
    if (code) {
      throw new ProviderUnavailableError(
        `Cannot reach ${backend.service} at ${backend.baseUrl} (${code}). ${backend.unreachableHint}`,
        backend.baseUrl,
        { cause: error },
      );
    }
    throw new ProviderUnavailableError(
      `Request to ${backend.service} at ${backend.baseUrl} failed: ${(error as Error)?.message ?? String(error)}`,
      backend.baseUrl,
      { cause: error },
    );
  }
  if (!response.ok) {
    const raw = await response.text().catch(() => "");
    if (backend.toError) throw backend.toError(response.status, raw, new URL(url).pathname);
    const text = errorTextOf(raw);
    throw new ProviderResponseError(
      `${backend.service} at ${backend.baseUrl} answered ${response.status} for ${new URL(url).pathname}: ${text || response.statusText}`,
      response.status,
      backend.baseUrl,
    );
  }
  return response;
}
