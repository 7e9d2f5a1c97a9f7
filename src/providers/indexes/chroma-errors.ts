import {
  BackendTimeoutError,
  DimensionMismatchError,
  HerdError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../core/errors.js";

/**
 * The HTTP status behind each error class of the chromadb client's own fetch (it keeps only the
 * class), for a client on which Herd could not install its fetch (see boundChromaReplies).
 */
const STATUS_BY_NAME: Record<string, number> = {
  ChromaClientError: 400,
  ChromaAuthError: 401, // ChromaUnauthorizedError's name
  ChromaForbiddenError: 403,
  ChromaNotFoundError: 404,
  ChromaUniqueError: 409,
  ChromaQuotaExceededError: 422,
  ChromaRateLimitError: 429,
  ChromaServerError: 500,
};

/** What to do when Chroma cannot be reached. */
export const CHROMA_UNREACHABLE_HINT =
  "Start Chroma with `npx chroma run --path ./chroma-data` or pass --chroma-url.";

/**
 * A Chroma reply with an error status, as Herd's fetch for the chromadb client reads it: the status
 * and the server's message (from at most the first 64 KiB of the body).
 */
export class ChromaStatusError extends Error {
  override readonly name = "ChromaStatusError";
  constructor(
    /** The HTTP status Chroma answered with. */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** True for a "collection (or record) not found" error: a 404 reply. */
export function isChromaNotFound(error: unknown): boolean {
  if (error instanceof ChromaStatusError) return error.status === 404;
  return (error as { name?: unknown })?.name === "ChromaNotFoundError";
}

/**
 * Maps an error thrown by the chromadb client to a Herd error: a failed connection to
 * ProviderUnavailableError (naming the URL and the fix), a wrong vector dimension to
 * DimensionMismatchError, anything else to ProviderResponseError with the server's status.
 */
export function mapChromaError(error: unknown, url: string, doing: string): HerdError {
  if (HerdError.isInstance(error)) return error;
  const name = (error as { name?: unknown })?.name;
  const message = error instanceof Error ? error.message : String(error);
  if (name === "TimeoutError") {
    // The abort of the time bound (boundChromaCalls), before the reply's headers or while reading its body.
    return new BackendTimeoutError(
      `Chroma at ${url} did not answer in time (timeouts.firstByteMs) while ${doing}; the call was aborted. ` +
        "Check the Chroma server, or raise timeouts.firstByteMs.",
      "firstByteMs",
      url,
      { cause: error },
    );
  }
  if (name === "ChromaConnectionError" || isConnectionFailure(error)) {
    // The chromadb client's own fetch (where Herd's is not installed) drops the cause; its plain
    // message is what a call cut by the time bound gives.
    if (message === "Failed to connect to Chroma") {
      return new BackendTimeoutError(
        `Chroma at ${url} did not answer in time (timeouts.firstByteMs) while ${doing}, or the call failed before ` +
          "an answer; the call was aborted. Check the Chroma server, or raise timeouts.firstByteMs.",
        "firstByteMs",
        url,
        { cause: error },
      );
    }
    return new ProviderUnavailableError(`Cannot reach Chroma at ${url}. ${CHROMA_UNREACHABLE_HINT}`, url, {
      cause: error,
    });
  }
  const dimension = /expecting embedding with dimension of (\d+), got (\d+)/i.exec(message);
  if (dimension) {
    return new DimensionMismatchError(
      `Chroma ${doing}: the collection holds vectors of dimension ${dimension[1]}, got ${dimension[2]}. ` +
        "Vectors from a different embedder need their own collection; rebuild the index after changing embedders.",
      { cause: error },
    );
  }
  const status =
    error instanceof ChromaStatusError
      ? error.status
      : typeof name === "string"
        ? STATUS_BY_NAME[name]
        : undefined;
  const detail = message.replace(/^Bad request to \S+ with status: /, "");
  const hint =
    status === 401 || status === 403
      ? ' Pass the server\'s token with the index\'s `headers` option, e.g. { "x-chroma-token": "..." }.'
      : "";
  return new ProviderResponseError(
    `Chroma at ${url} failed ${doing}${status ? ` (HTTP ${status})` : ""}: ${detail}${hint}`,
    status,
    url,
    { cause: error },
  );
}

function isConnectionFailure(error: unknown): boolean {
  return error instanceof TypeError && /fetch failed|Failed to fetch/i.test(error.message);
}
