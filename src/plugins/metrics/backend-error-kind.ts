import {
  HerdError,
  ModelNotFoundError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../core/errors.js";

/** The kinds of backend failure Herd counts: the label values of `herd_backend_errors_total`. */
export type BackendErrorKind =
  | "timeout"
  | "unavailable"
  | "rate_limited"
  | "model_not_found"
  | "backend_error";

/**
 * Classifies an error from the chat backend, or `undefined` when the error is not the backend's
 * (bad input, an aborted request, a plugin failure). Timeouts are recognised by their code or status
 * (408/504), so a timeout error class from the HTTP layer is counted without importing it.
 */
export function backendErrorKind(error: unknown): BackendErrorKind | undefined {
  if (!HerdError.isInstance(error)) return undefined;
  if (/timeout/i.test(error.code) || error.status === 504 || error.status === 408) return "timeout";
  if (error instanceof ProviderUnavailableError) return "unavailable";
  if (error instanceof ProviderResponseError) {
    if (error.providerStatus === 429) return "rate_limited";
    if (error instanceof ModelNotFoundError) return "model_not_found";
    return "backend_error";
  }
  return undefined;
}
