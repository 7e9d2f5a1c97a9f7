/**
 * How a prompt is compared with the experts: `linear` (a logistic regression trained on the
 * examples, calibrated probabilities), `centroid` (the original Herd) or `knn` (airoboros LMoE).
 */
export type RoutingStrategy = "linear" | "centroid" | "knn";

/** How distances become blend weights when several experts are used (`centroid` and `knn`). */
export type WeightingScheme =
  /** The original Herd: softmax over 1/distance. */
  | "inverse-distance"
  /** softmax(similarity / temperature). */
  | "softmax"
  /** The `linear` strategy's calibrated probabilities, renormalized over the selected experts. */
  | "probability";

/** Which text of a chat is routed. */
export type RoutingTextMode =
  /** The last user message (default). */
  | "last-user"
  /** All user messages, joined. */
  | "all-user"
  /** The whole conversation, system prompt included. */
  | "all";

/** One expert in a routing decision, ranked nearest first. */
export interface RankedExpert {
  name: string;
  /**
   * Cosine distance between the routed text and the expert (centroid or mean of k nearest
   * examples); with `linear`, 1 - the expert's probability.
   */
  distance: number;
  /** 1 - distance (with `linear`: the expert's calibrated probability). */
  similarity: number;
  /** Blend weight; the selected experts' weights sum to 1, others are 0. */
  weight: number;
}

/** Why the decision ended where it did. */
export type RoutingReason =
  /** The router picked the experts. */
  | "routed"
  /** The best expert was below the confidence threshold: the base model answers. */
  | "below-threshold"
  /** The caller (or a plugin) named the expert. */
  | "forced"
  /** Routing is off (`--only-base`, the base model was requested). */
  | "base-only"
  /** A plugin (e.g. sticky routing) kept an earlier decision. */
  | "sticky";

/** The answer to "which expert(s) should handle this prompt, and why". */
export interface RoutingDecision {
  /** Every expert, nearest first, with distance, similarity and weight. */
  ranked: RankedExpert[];
  /** The experts that take part (weight > 0), at most `topExperts`; empty when the base model answers. */
  selected: RankedExpert[];
  /** The model that serves the request on name-selecting backends (expert model, blend variant or base). */
  model: string;
  strategy: RoutingStrategy;
  weighting: WeightingScheme;
  reason: RoutingReason;
  /** The embedder id the distances were computed with. */
  embedder: string;
  /**
   * How sure the router is of its top expert, 0..1: with `linear` its calibrated probability (the
   * share of such prompts routed right), with `centroid`/`knn` its weight when all experts are
   * weighted. Absent when no routing happened (forced, base-only).
   */
  confidence?: number;
  /** Milliseconds spent embedding (features), querying the index (scoring), and in total. */
  timings: { embedMs: number; queryMs: number; totalMs: number };
  /** Non-fatal notes (e.g. "blend variant missing, using top expert"). */
  warnings: string[];
}

/** Settings of the router. */
export interface RouterOptions {
  /** @default "linear" */
  strategy?: RoutingStrategy;
  /** With `centroid`/`knn`. @default "inverse-distance" (the original Herd's softmax over 1/distance) */
  weighting?: WeightingScheme;
  /** Temperature of the `softmax` weighting; lower is sharper. @default 0.05 */
  temperature?: number;
  /** How many experts to blend. @default 1 */
  topExperts?: number;
  /**
   * Below it the base model answers: the best expert's calibrated probability with `linear` (fit
   * it with `herd fit`), its similarity with `centroid`/`knn`. 0 turns it off. @default 0
   */
  threshold?: number;
  /**
   * With `linear`: the temperature dividing the scores before the softmax. Unset: the one fitted
   * by cross-validation when the model was trained; `herd fit --data` fits it on labeled data.
   */
  calibrationTemperature?: number;
  /** Neighbours per expert for the `knn` strategy. @default 5 */
  k?: number;
  /** Which text of a chat is routed. @default "last-user" */
  textMode?: RoutingTextMode;
  /**
   * The most characters of the routed text that are embedded: a longer text is routed by its first
   * and last `maxTextChars / 2` characters, so routing costs the same for a 4 MB prompt as for a short one.
   * @default 8000
   */
  maxTextChars?: number;
}

/** Per-call routing options; they override the router's settings. */
export interface RouteOptions {
  topExperts?: number;
  strategy?: RoutingStrategy;
  weighting?: WeightingScheme;
  temperature?: number;
  threshold?: number;
  /** Force these experts (skips embedding); weights are split equally unless given. */
  experts?: string[];
  /** Skip routing: the base model answers. */
  baseOnly?: boolean;
  signal?: AbortSignal;
}

/** What can be routed: a prompt or a chat. */
export type RouteInput = string | readonly { role: string; content: string }[];

/** The routing service: the one thing the chat model, the server and apps call to pick experts. */
export interface RouterService {
  route(input: RouteInput, options?: RouteOptions): Promise<RoutingDecision>;
}
