import { IntTable } from "../../core/routing/int-table.js";
import type { SparseFeatures } from "../../core/routing/linear-model.js";
import {
  extractFeatures,
  FeatureCounts,
  type FeatureSettings,
  fnv1a,
  type TextFeatures,
} from "./hashing-features.js";
import { type DocumentFrequencies, idfOfCount } from "./hashing-idf.js";

/** How much each feature group counts in a sparse vector (each group is normalized first). */
export interface SparseGroupWeights {
  /** @default 1 */
  words?: number;
  /** @default 0.8 */
  chars?: number;
  /** @default 0.7 */
  lead?: number;
}

/** Bumped whenever the sparse features change, so linear models trained on older ones are retrained. */
const SPARSE_VERSION = 1;
const DEFAULT_GROUP_WEIGHTS: Required<SparseGroupWeights> = { words: 1, chars: 0.8, lead: 0.7 };

/**
 * Sparse TF-IDF features of a text, not folded into a fixed width: word n-grams, character
 * n-grams and the lead group, each feature valued `(1 + ln tf) * idf` with the corpus's document
 * frequencies, features in fewer than `minDf` corpus texts dropped, each group L2-normalized and
 * weighted, then the whole vector L2-normalized. What the `linear` routing strategy learns from.
 */
export class SparseTfidf {
  /** Names the settings (the corpus is named by the embedder's id). */
  readonly id: string;
  private readonly weights: Required<SparseGroupWeights>;
  /**
   * When fitted: the document frequency of every feature kept (df >= minDf), and the IDF of each
   * document frequency (a table of small integers is half the size of one of IDFs, so it stays in cache).
   */
  private readonly df: IntTable | undefined;
  private readonly idfOf: Float64Array = new Float64Array(0);
  private readonly settings: FeatureSettings;
  /** Feature counts reused from text to text (features() reads them before it returns). */
  private readonly scratch: TextFeatures = {
    words: new FeatureCounts(256),
    chars: new FeatureCounts(1024),
    lead: new FeatureCounts(64),
  };

  constructor(
    settings: FeatureSettings,
    /** Document frequencies counted with the lead group, or undefined for plain TF. */
    df: DocumentFrequencies | undefined,
    minDf: number,
    weights: SparseGroupWeights = {},
  ) {
    this.settings = { ...settings, lead: true };
    this.weights = { ...DEFAULT_GROUP_WEIGHTS, ...weights };
    if (df) {
      const kept: [number, number][] = [];
      for (const [hash, count] of df.counts) if (count >= minDf) kept.push([hash, count]);
      this.df = new IntTable(kept);
      this.idfOf = Float64Array.from({ length: df.documentCount + 1 }, (_, count) =>
        idfOfCount(df.documentCount, count),
      );
    }
    const key = JSON.stringify({ v: SPARSE_VERSION, g: this.weights, minDf: df ? minDf : 0 });
    this.id = `tfidf${SPARSE_VERSION}-${fnv1a(key).toString(16).padStart(8, "0")}`;
  }

  /** The features of one text (keys are signed 32-bit feature hashes). */
  features(text: string): SparseFeatures {
    const groups = extractFeatures(text, this.settings, this.scratch);
    const lead = groups.lead!;
    const size = groups.words.size + groups.chars.size + lead.size;
    const keys = new Int32Array(size);
    const values = new Float64Array(size);
    let n = this.addGroup(keys, values, 0, groups.words, this.weights.words);
    if (this.settings.charNgrams) n = this.addGroup(keys, values, n, groups.chars, this.weights.chars);
    n = this.addGroup(keys, values, n, lead, this.weights.lead);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[i]! * values[i]!;
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let i = 0; i < n; i++) values[i]! *= scale;
    return { keys: keys.subarray(0, n), values: values.subarray(0, n) };
  }

  /** Writes one group's kept features from `at` on, normalized and weighted; returns the new end. */
  private addGroup(
    keys: Int32Array,
    values: Float64Array,
    at: number,
    counts: FeatureCounts,
    weight: number,
  ): number {
    if (weight === 0) return at;
    const known = this.df;
    const idfOf = this.idfOf;
    let end = at;
    let sum = 0;
    for (let i = 0; i < counts.size; i++) {
      const hash = counts.keyAt(i);
      const count = known ? known.get(hash) : 0;
      if (count === undefined) continue;
      const idf = known ? idfOf[count]! : 1;
      const tf = counts.countAt(i);
      const v = tf === 1 ? idf : (1 + Math.log(tf)) * idf;
      keys[end] = hash;
      values[end] = v;
      sum += v * v;
      end++;
    }
    if (sum === 0) return at;
    const scale = weight / Math.sqrt(sum);
    for (let i = at; i < end; i++) values[i]! *= scale;
    return end;
  }
}
