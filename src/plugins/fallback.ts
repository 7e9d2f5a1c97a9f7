import { errorMessage, ProviderResponseError, ProviderUnavailableError } from "../core/errors.js";
import type { RequestContext } from "../core/pipeline.js";
import type { ErrorRecovery, Plugin } from "../core/plugin.js";

/** Settings of the fallback plugin. */
export interface FallbackOptions {
  /** Also fall back when the backend cannot be reached at all (useful when experts live elsewhere). @default false */
  onUnavailable?: boolean;
}

/**
 * When the backend fails on an expert model (not built, crashed while loading the adapter), retries
 * the request once on the base model and adds a warning saying so. Only errors before the first
 * token are retried; the base model's own failures are reported as they are.
 *
 * @example
 * createHerd({ plugins: ["expert-override", "fallback"] });
 */
export class FallbackPlugin implements Plugin {
  readonly name = "fallback";
  private readonly onUnavailable: boolean;

  constructor(options: FallbackOptions = {}) {
    this.onUnavailable = options.onUnavailable ?? false;
  }

  onError(ctx: RequestContext, error: unknown): ErrorRecovery | undefined {
    const target = ctx.chatRequest?.target;
    if (!target || target.base) return undefined;
    const backendError =
      error instanceof ProviderResponseError ||
      (this.onUnavailable && error instanceof ProviderUnavailableError);
    if (!backendError) return undefined;
    const base = ctx.baseTarget();
    return {
      retry: base,
      warning: `The expert model "${target.model}" failed (${errorMessage(error)}); the base model "${base.model}" answered instead.`,
    };
  }
}
