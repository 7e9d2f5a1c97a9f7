import { ConfigError } from "../../core/errors.js";
import { extractFeatures, type FeatureSettings, fnv1a } from "./hashing-features.js";

/**
 * Document frequencies of a corpus (usually every expert's example prompts), keyed by feature hash
 * before it is folded into the vector, so collisions in the vector do not blur the weights.
 */
export interface DocumentFrequencies {
  /** How many texts the table was counted on. */
  readonly documentCount: number;
  /** Feature hash -> number of texts containing the feature. Features never seen are absent. */
  readonly counts: ReadonlyMap<number, number>;
}

/** The corpus without blank texts, sorted, so fitting does not depend on the order of the texts. */
export function canonicalCorpus(corpus: readonly string[]): string[] {
  const texts = corpus.filter((text) => typeof text === "string" && text.trim() !== "");
  if (texts.length === 0) {
    throw new ConfigError(
      "The hashing embedder's corpus has no non-empty text. Pass the experts' example prompts, or leave `corpus` out.",
      "embedder.options.corpus",
    );
  }
  return texts.sort();
}

/** Counts, for every feature, how many texts of the corpus contain it. */
export function countDocumentFrequencies(
  texts: readonly string[],
  settings: FeatureSettings,
): DocumentFrequencies {
  const counts = new Map<number, number>();
  for (const text of texts) {
    const features = extractFeatures(text, settings);
    const seen = new Set<number>([
      ...features.words.keys(),
      ...features.chars.keys(),
      ...(features.lead?.keys() ?? []),
    ]);
    for (const hash of seen) counts.set(hash, (counts.get(hash) ?? 0) + 1);
  }
  return { documentCount: texts.length, counts };
}

/**
 * The smoothed IDF of a feature, `ln((1 + N) / (1 + df)) + 1` (as in scikit-learn): a feature in
 * every text weighs 1, rarer features weigh more.
 */
export function idfWeight(df: DocumentFrequencies, hash: number): number {
  return idfOfCount(df.documentCount, df.counts.get(hash) ?? 0);
}

/** The smoothed IDF of a feature found in `count` of `documentCount` texts (see `idfWeight`). */
export function idfOfCount(documentCount: number, count: number): number {
  return Math.log((1 + documentCount) / (1 + count)) + 1;
}

/** A digest of a canonical corpus as 8 hex digits: equal corpora give equal digests on every machine. */
export function corpusDigest(texts: readonly string[]): string {
  let h = fnv1a(`corpus:${texts.length}`);
  for (const text of texts) h = fnv1a(`\u0000${text}`, h);
  return h.toString(16).padStart(8, "0");
}
