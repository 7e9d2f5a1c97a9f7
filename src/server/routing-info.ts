import type { GenerationTarget } from "../core/chat.js";
import type { RoutingDecision } from "../core/routing.js";

/** The routing decision as the facade shows it: the `herd` object of responses and first chunks. */
export interface HerdRoutingInfo {
  request_id: string;
  /** The model the backend ran (expert model, blend variant or base model). */
  model: string;
  /** Why: `routed`, `forced`, `base-only`, `below-threshold` or `sticky`. */
  reason: string;
  /** The experts that answered, with their blend weights; empty when the base model answered. */
  selected: { name: string; weight: number }[];
  /** Every expert, nearest first. */
  ranked: { name: string; distance: number; similarity: number; weight: number }[];
  /** Adapter scales, on backends that blend natively. */
  adapters: { expert: string; scale: number }[];
  strategy: string;
  weighting: string;
  embedder: string;
  /** Milliseconds: embedding, index query, routing in total; plus generation and total when known. */
  timings: {
    embed_ms: number;
    query_ms: number;
    route_ms: number;
    generation_ms?: number;
    total_ms?: number;
  };
  warnings: string[];
}

/** What a started Herd stream tells up front. */
export interface RoutedStart {
  requestId: string;
  decision: RoutingDecision;
  target: GenerationTarget;
  warnings: readonly string[];
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Builds the `herd` object from a routing decision and the target it resolved to. */
export function routingInfo(start: RoutedStart, extraWarnings: readonly string[] = []): HerdRoutingInfo {
  const { decision, target } = start;
  return {
    request_id: start.requestId,
    model: target.model,
    reason: decision.reason,
    selected: decision.selected.map((e) => ({ name: e.name, weight: e.weight })),
    ranked: decision.ranked.map((e) => ({
      name: e.name,
      distance: e.distance,
      similarity: e.similarity,
      weight: e.weight,
    })),
    adapters: target.adapters.map((a) => ({ expert: a.expert, scale: a.scale })),
    strategy: decision.strategy,
    weighting: decision.weighting,
    embedder: decision.embedder,
    timings: {
      embed_ms: round(decision.timings.embedMs),
      query_ms: round(decision.timings.queryMs),
      route_ms: round(decision.timings.totalMs),
    },
    warnings: [...new Set([...extraWarnings, ...start.warnings])],
  };
}

/**
 * The routing response headers: `x-herd-model`, `x-herd-experts` (`name=weight` pairs, or `none`),
 * `x-herd-routing` (the reason), `x-herd-route-ms`, `x-herd-request-id`, and `x-herd-warning` when
 * there are warnings. Values are reduced to printable ASCII so no input can break a header.
 */
export function routingHeaders(info: HerdRoutingInfo): Record<string, string> {
  const headers: Record<string, string> = {
    "x-herd-request-id": headerValue(info.request_id),
    "x-herd-model": headerValue(info.model),
    "x-herd-experts":
      info.selected.length === 0
        ? "none"
        : headerValue(info.selected.map((e) => `${e.name}=${e.weight.toFixed(3)}`).join(",")),
    "x-herd-routing": headerValue(info.reason),
    "x-herd-route-ms": info.timings.route_ms.toFixed(3),
  };
  if (info.warnings.length > 0) headers["x-herd-warning"] = headerValue(info.warnings.join(" | "));
  return headers;
}

/** Printable ASCII only, at most 2,000 characters: safe for any HTTP header. */
export function headerValue(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 2000 ? `${clean.slice(0, 1997)}...` : clean;
}
