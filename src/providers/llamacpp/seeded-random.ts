import { seededRandom as mulberry32 } from "../../core/vector-math.js";

/** A small seeded pseudo-random generator (mulberry32), so generated weights are reproducible. */
export interface SeededRandom {
  /** A uniform number in [0, 1). */
  next(): number;
  /** A standard normal number (Box-Muller). */
  normal(): number;
}

/** Hashes a string seed to 32 bits (FNV-1a). */
export function hashSeed(seed: number | string): number {
  if (typeof seed === "number") return seed >>> 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Creates a generator; the same seed always gives the same sequence. */
export function seededRandom(seed: number | string): SeededRandom {
  const next = mulberry32(hashSeed(seed));
  return {
    next,
    normal: () => {
      const u = 1 - next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
  };
}
