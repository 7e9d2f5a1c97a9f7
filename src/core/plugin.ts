import type { ChatChunk, GenerationTarget } from "./chat.js";
import type { HerdResponse, RequestContext } from "./pipeline.js";

/** What an `onError` hook may ask for: run the request once more on another target. */
export interface ErrorRecovery {
  /** The target to retry on (e.g. the base model). */
  retry: GenerationTarget;
  /** A warning added to the response, saying what happened. */
  warning: string;
}

/** How a request ended: with a whole answer, with an error, or neither (cancelled by the caller). */
export interface RequestOutcome {
  /** Set when the answer was complete. */
  response?: HerdResponse;
  /** Set when the request failed (after any recovery was tried). */
  error?: unknown;
}

/**
 * Hooks around one request. Every hook is optional and may be async.
 * The pipeline calls them in plugin order (`order`, then registration order):
 *
 *     onRequest -> (route) -> afterRouting -> (resolve) -> beforeGeneration
 *       -> onChunk per chunk -> onResponse          (or onError when something threw)
 *       -> onEnd                                   (always, once: done, failed or cancelled)
 *
 * A hook that throws fails the request with a `PluginError` naming the plugin and hook; `onResponse`
 * and `onError` failures only add a warning. No plugin error ever escapes as an unhandled rejection.
 */
export interface Plugin {
  /** The registry name, e.g. `sticky-routing`. Unique within a pipeline. */
  readonly name: string;
  /** Lower runs first; ties keep registration order. @default 0 */
  readonly order?: number;
  /** Before routing: inspect or change `ctx.request` and `ctx.routeOptions` (force experts, base only). */
  onRequest?(ctx: RequestContext): void | Promise<void>;
  /** After routing: inspect or replace `ctx.decision`. */
  afterRouting?(ctx: RequestContext): void | Promise<void>;
  /** After the blend resolver: inspect or change `ctx.chatRequest` (target, params, tools). */
  beforeGeneration?(ctx: RequestContext): void | Promise<void>;
  /** For each chunk from the provider: return a replacement chunk, or nothing to keep it. Must be sync. */
  onChunk?(ctx: RequestContext, chunk: ChatChunk): ChatChunk | undefined;
  /** After the last chunk, with the whole answer. */
  onResponse?(ctx: RequestContext, response: HerdResponse): void | Promise<void>;
  /**
   * When routing, resolving or generation failed. Return an `ErrorRecovery` to retry once on another
   * target; the first plugin that returns one wins, and later plugins' `onError` is not called for
   * that (handled) error. Called only while no chunk has reached the caller.
   */
  onError?(
    ctx: RequestContext,
    error: unknown,
  ): ErrorRecovery | undefined | Promise<ErrorRecovery | undefined>;
  /**
   * Once per request, when it settles: after `onResponse`, after the final `onError`, or when the
   * caller cancelled or stopped reading. Must be sync; a failure is logged, never thrown. Metrics and
   * traces close their books here.
   */
  onEnd?(ctx: RequestContext, outcome: RequestOutcome): void;
  /** Releases resources (timers, connections) when the Herd closes. */
  close?(): void | Promise<void>;
}

/** Builds a plugin from its config entry's `options`. Registered by name in a plugin registry. */
export type PluginFactory = (options: Record<string, unknown>) => Plugin;

/** Plugins sorted by `order` (stable: equal orders keep their given order). */
export function orderPlugins(plugins: readonly Plugin[]): Plugin[] {
  return plugins
    .map((plugin, index) => ({ plugin, index }))
    .sort((a, b) => (a.plugin.order ?? 0) - (b.plugin.order ?? 0) || a.index - b.index)
    .map(({ plugin }) => plugin);
}
