import type { Expert } from "../core/expert.js";
import type { HerdRequest, HerdStream, StreamOptions } from "../core/pipeline.js";
import type { RouteInput, RouteOptions, RoutingDecision } from "../core/routing.js";

/**
 * What the facade needs from a Herd: the experts and base model it serves, routed streaming,
 * routing alone, and a health check. `Herd` (src/herd.ts) is one; tests pass small fakes.
 */
export interface ServedHerd {
  /** The experts served now (they may change at run time). */
  readonly experts: readonly Expert[];
  /** The base model every expert shares. */
  readonly baseModel: string;
  /** Routes and starts generating; rejects on errors before the first chunk. */
  stream(request: HerdRequest, options?: StreamOptions): Promise<HerdStream>;
  /** The routing decision alone. */
  route(input: RouteInput, options?: RouteOptions): Promise<RoutingDecision>;
  /** Generations running and requests queued now (read by the metrics at scrape time). */
  readonly load?: { running: number; queued: number };
  /** Checks the backend and the index; throws (e.g. ProviderUnavailableError) when one is down. */
  health(): Promise<unknown>;
  /** Re-reads the experts (POST /admin/experts/reload); absent when the Herd cannot. */
  reloadExperts?(): Promise<unknown>;
}
