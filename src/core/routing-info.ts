import type { GenerationTarget } from "./chat.js";
import type { RoutingDecision } from "./routing.js";

/**
 * Why a request went where it did, as plain JSON: what LangChain puts in `response_metadata.herd`
 * and run metadata, and what the server sends in its `herd` extension field.
 */
export interface HerdRoutingInfo {
  requestId: string;
  /** The model that generated (after any fallback). */
  model: string;
  /** True when the base model answered. */
  base: boolean;
  /** The selected experts with their blend weights, distances and similarities. */
  experts: { name: string; weight: number; distance: number; similarity: number }[];
  /** Adapters and scales the generation used. */
  adapters: { expert: string; scale: number }[];
  reason: RoutingDecision["reason"];
  /** How sure the router was of its top expert (the `linear` strategy's calibrated probability). */
  confidence?: number;
  strategy: RoutingDecision["strategy"];
  weighting: RoutingDecision["weighting"];
  embedder: string;
  /** Every expert ranked, nearest first. */
  ranked: { name: string; distance: number }[];
  timings: RoutingDecision["timings"];
  warnings: string[];
}

/** Summarises a decision and the target that ran it. */
export function routingInfo(
  requestId: string,
  decision: RoutingDecision,
  target: GenerationTarget,
  warnings: readonly string[],
): HerdRoutingInfo {
  return {
    requestId,
    model: target.model,
    base: target.base,
    experts: decision.selected.map((e) => ({
      name: e.name,
      weight: e.weight,
      distance: e.distance,
      similarity: e.similarity,
    })),
    adapters: target.adapters.map((a) => ({ ...a })),
    reason: decision.reason,
    ...(decision.confidence === undefined ? {} : { confidence: decision.confidence }),
    strategy: decision.strategy,
    weighting: decision.weighting,
    embedder: decision.embedder,
    ranked: decision.ranked.map((e) => ({ name: e.name, distance: e.distance })),
    timings: { ...decision.timings },
    warnings: [...warnings],
  };
}
