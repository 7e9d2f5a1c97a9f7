import {
  BackendTimeoutError,
  DimensionMismatchError,
  HerdError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../core/errors.js";

/** The HTTP status behind each error class of the chromadb client (it keeps only the class). */
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

/** True for the chromadb client's "collection (or record) not found" error. */
export function isChromaNotFound(error: unknown): boolean {
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
  if (name === "ChromaConnectionError" || isConnectionFailure(error)) {
    // The client drops the cause; its plain message is what a call cut by the time bound gives.
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
  const status = typeof name === "string" ? STATUS_BY_NAME[name] : undefined;
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
