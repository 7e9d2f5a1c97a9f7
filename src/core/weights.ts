import type { WeightingScheme } from "./routing.js";
import { softmax } from "./vector-math.js";

/** Smallest distance used in 1/distance, so an exact match does not divide by zero. */
const MIN_DISTANCE = 1e-6;

/**
 * Blend weights for the selected experts (nearest first). They sum to 1.
 * - `inverse-distance`: the original Herd's softmax(1 / distance);
 * - `softmax`: softmax(similarity / temperature), sharper as the temperature drops.
 *
 * A NaN or infinite distance is a RangeError: the weights are never NaN.
 */
export function blendWeights(
  distances: readonly number[],
  scheme: WeightingScheme,
  temperature = 0.05,
): number[] {
  if (distances.length === 0) return [];
  const bad = distances.find((d) => !Number.isFinite(d));
  if (bad !== undefined) {
    throw new RangeError(
      `Blend weights need finite distances, got ${bad}. Rebuild the centroids with \`herd centroids\`.`,
    );
  }
  if (scheme === "inverse-distance") {
    return softmax(distances.map((d) => 1 / Math.max(d, MIN_DISTANCE)));
  }
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`The softmax temperature must be a positive number, got ${temperature}.`);
  }
  return softmax(distances.map((d) => (1 - d) / temperature));
}
