import type { Embedder, EmbedOptions, SparseFeatureSource } from "../../core/embedder.js";
import { AbortError, ConfigError, InvalidInputError } from "../../core/errors.js";
import type { SparseFeatures } from "../../core/routing/linear-model.js";
import {
  ENGLISH_STOP_WORDS,
  extractFeatures,
  type FeatureCounts,
  type FeatureSettings,
  fmix32,
  fnv1a,
} from "./hashing-features.js";
import {
  canonicalCorpus,
  corpusDigest,
  countDocumentFrequencies,
  type DocumentFrequencies,
  idfWeight,
} from "./hashing-idf.js";
import { SparseTfidf } from "./sparse-tfidf.js";

/** How much each feature group counts in the final vector (each group is normalized first). */
export interface HashingFeatureWeights {
  /** Word unigrams and n-grams. @default 1 */
  words?: number;
  /** Character n-grams (robust to typos, plurals and word forms). @default 0.8 */
  chars?: number;
}

/** Settings of the hashing embedder. Every field changes the vectors, so every field is part of the id. */
export interface HashingEmbedderOptions {
  /** The vector length. Larger means fewer hash collisions and bigger vectors. @default 8192 */
  dimension?: number;
  /** Smallest and largest word n-gram. @default [1, 2] */
  wordNgrams?: readonly [number, number];
  /** Smallest and largest character n-gram, or `false` for none. @default [3, 5] */
  charNgrams?: readonly [number, number] | false;
  /**
   * Words left out of unigrams and character n-grams (they stay in word n-grams). With a corpus,
   * IDF already discounts them. @default "none"
   */
  stopWords?: "english" | "none" | readonly string[];
  /** Feature group weights. @default { words: 1, chars: 0.8 } */
  weights?: HashingFeatureWeights;
  /**
   * Texts to fit on, typically every expert's example prompts. The fit gives features IDF weights,
   * drops features too rare to match anything (`minDocumentFrequency`) and subtracts the corpus's
   * mean vector (`center`), which removes what all prompts share. The order of the texts does not
   * matter. @default none: every feature weighs 1 (sublinear TF only), nothing dropped or centered
   */
  corpus?: readonly string[];
  /**
   * With a corpus: features found in fewer corpus texts are ignored (they cannot match an example
   * and only add hash-collision noise). A text with no such feature keeps all of its features.
   * @default 2
   */
  minDocumentFrequency?: number;
  /** With a corpus: subtract the corpus's mean vector from every vector, then re-normalize. @default true */
  center?: boolean;
}

/** Bumped whenever feature extraction or weighting changes, so old centroids are not reused. */
const VERSION = 1;
const DEFAULT_WEIGHTS: Required<HashingFeatureWeights> = { words: 1, chars: 0.8 };

function checkRange(value: readonly [number, number], field: string): readonly [number, number] {
  const [min, max] = value;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min || max > 8) {
    throw new ConfigError(
      `${field} must be [min, max] with integers 1 <= min <= max <= 8, got ${JSON.stringify(value)}.`,
      field,
    );
  }
  return [min, max];
}

function checkWeight(value: number, field: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new ConfigError(`${field} must be a finite number >= 0, got ${value}.`, field);
  }
  return value;
}

/** What fitting on a corpus produced. */
interface Fit {
  /** The canonical corpus (sorted, no blanks). */
  texts: readonly string[];
  df: DocumentFrequencies;
  /** IDF of every feature found in at least `minDocumentFrequency` corpus texts. */
  known: Map<number, number>;
  /** With 0, features outside `known` (unseen ones) are kept too, with the largest IDF. */
  minDf: number;
  /** The mean of the corpus's (uncentered) vectors, or undefined when not centering. */
  mean: Float64Array | undefined;
  /** |mean|^2, so centering costs one pass over the dense vector. */
  meanSquared: number;
}

/**
 * An offline, deterministic embedder: hashed word n-grams and character n-grams with sublinear TF,
 * fitted on a corpus (IDF, rare-feature pruning, mean-centering), L2-normalized. No model, no
 * network: the same options and corpus give the same id and the same vectors on every machine.
 *
 * @example
 * const embedder = HashingEmbedder.fit(experts.flatMap((e) => e.examples));
 * embedder.id; // "hashing-v1-d8192-w1-2-c3-5-<8 hex digits>"
 * const [vector] = await embedder.embed(["Write a haiku about the sea"]);
 */
export class HashingEmbedder implements Embedder {
  readonly id: string;
  /** How many corpus texts the embedder was fitted on (0 when it was not). */
  readonly corpusSize: number;
  private readonly dim: number;
  private readonly settings: FeatureSettings;
  private readonly weights: Required<HashingFeatureWeights>;
  private readonly fitted: Fit | undefined;
  private sparse: SparseTfidf | undefined;

  constructor(options: HashingEmbedderOptions = {}) {
    const dim = options.dimension ?? 8192;
    if (!Number.isInteger(dim) || dim < 16 || dim > 1 << 20) {
      throw new ConfigError(
        `embedder.options.dimension must be an integer from 16 to 1048576, got ${dim}.`,
        "embedder.options.dimension",
      );
    }
    this.dim = dim;
    const wordNgrams = checkRange(options.wordNgrams ?? [1, 2], "embedder.options.wordNgrams");
    const charNgrams =
      options.charNgrams === false
        ? null
        : checkRange(options.charNgrams ?? [3, 5], "embedder.options.charNgrams");
    const stop = options.stopWords ?? "none";
    const stopWords =
      stop === "english" ? ENGLISH_STOP_WORDS : stop === "none" ? [] : stop.map((w) => w.toLowerCase());
    this.settings = { wordNgrams, charNgrams, stopWords: new Set(stopWords) };
    const w = { ...DEFAULT_WEIGHTS, ...options.weights };
    this.weights = {
      words: checkWeight(w.words, "embedder.options.weights.words"),
      chars: checkWeight(w.chars, "embedder.options.weights.chars"),
    };
    if (this.weights.words + (charNgrams ? this.weights.chars : 0) === 0) {
      throw new ConfigError(
        "embedder.options.weights leave no feature group with a positive weight; raise weights.words or weights.chars.",
        "embedder.options.weights",
      );
    }
    const minDf = options.minDocumentFrequency ?? 2;
    if (!Number.isInteger(minDf) || minDf < 0) {
      throw new ConfigError(
        `embedder.options.minDocumentFrequency must be an integer >= 0, got ${minDf}.`,
        "embedder.options.minDocumentFrequency",
      );
    }
    const center = options.center ?? true;

    let digest: string | null = null;
    if (options.corpus) {
      const texts = canonicalCorpus(options.corpus);
      digest = corpusDigest(texts);
      const df = countDocumentFrequencies(texts, this.settings);
      const known = new Map<number, number>();
      for (const [hash, count] of df.counts) if (count >= minDf) known.set(hash, idfWeight(df, hash));
      this.fitted = { texts, df, known, minDf, mean: undefined, meanSquared: 0 };
      if (center) {
        const mean = this.corpusMean(texts);
        this.fitted.mean = mean;
        for (let i = 0; i < mean.length; i++) this.fitted.meanSquared += mean[i]! * mean[i]!;
      }
    }
    this.corpusSize = this.fitted?.df.documentCount ?? 0;

    const key = JSON.stringify({
      v: VERSION,
      d: dim,
      w: wordNgrams,
      c: charNgrams,
      s: [...this.settings.stopWords].sort(),
      g: this.weights,
      corpus: digest && { digest, minDf, center },
    });
    const ngrams = `w${wordNgrams.join("-")}-${charNgrams ? `c${charNgrams.join("-")}` : "c0"}`;
    this.id = `hashing-v${VERSION}-d${dim}-${ngrams}-${fnv1a(key).toString(16).padStart(8, "0")}`;
  }

  /**
   * Builds an embedder fitted on `corpus`: usually every expert's example prompts, so that what
   * all experts' prompts share weighs little and what sets them apart weighs a lot.
   */
  static fit(
    corpus: readonly string[],
    options: Omit<HashingEmbedderOptions, "corpus"> = {},
  ): HashingEmbedder {
    return new HashingEmbedder({ ...options, corpus });
  }

  async dimension(): Promise<number> {
    return this.dim;
  }

  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    const vectors: Float32Array[] = [];
    for (const [i, text] of texts.entries()) {
      if (options.signal?.aborted)
        throw new AbortError("Embedding was aborted.", { cause: options.signal.reason });
      if (typeof text !== "string" || text.trim() === "") {
        throw new InvalidInputError(
          `Cannot embed an empty text (texts[${i}]). Pass a prompt with some non-whitespace content, or leave blank texts out.`,
          `texts[${i}]`,
        );
      }
      vectors.push(this.embedOne(text));
    }
    return vectors;
  }

  /**
   * Embeds one non-empty text synchronously (the work is pure CPU). Works on the sparse features and
   * touches the dense vector once: |raw - mean|^2 = |raw|^2 - 2 raw.mean + |mean|^2.
   */
  embedOne(text: string): Float32Array {
    const raw = this.rawFeatures(text);
    const out = new Float32Array(this.dim);
    const mean = this.fitted?.mean;
    if (!mean) {
      for (const [i, v] of raw) out[i] = v;
      return out;
    }
    let rawSquared = 0;
    let rawDotMean = 0;
    for (const [i, v] of raw) {
      rawSquared += v * v;
      rawDotMean += v * mean[i]!;
    }
    const squared = rawSquared - 2 * rawDotMean + this.fitted!.meanSquared;
    const scale = squared > 0 ? 1 / Math.sqrt(squared) : 0;
    for (let i = 0; i < out.length; i++) out[i] = -mean[i]! * scale;
    for (const [i, v] of raw) out[i] = (v - mean[i]!) * scale;
    return out;
  }

  /**
   * Names the sparse features' settings (with the corpus named by `id`): a linear router trained
   * on `sparseFeatures` is stored per embedder id and this.
   */
  get sparseFeaturesId(): string {
    return this.sparseTfidf().id;
  }

  /**
   * The text's sparse TF-IDF features (words, characters and the lead group, not folded into
   * `dimension` buckets), for the `linear` routing strategy: no dense vector is built. The
   * corpus's document frequencies of the lead group are counted on the first call.
   */
  sparseFeatures(text: string): SparseFeatures {
    return this.sparseTfidf().features(text);
  }

  /**
   * Sparse features for texts the embedder's corpus may lack (the examples of experts added at run
   * time): undefined when the embedder was not fitted or its corpus already holds every text (its
   * own features fit), else features with the document frequencies of its corpus plus the new
   * texts, so their words count as they would after a restart with those experts.
   */
  sparseFeaturesFor(texts: readonly string[]): SparseFeatureSource | undefined {
    const fit = this.fitted;
    if (!fit) return undefined;
    const own = new Set(fit.texts);
    const extra = texts.filter((text) => typeof text === "string" && text.trim() !== "" && !own.has(text));
    if (extra.length === 0) return undefined;
    const corpus = canonicalCorpus([...fit.texts, ...extra]);
    const df = countDocumentFrequencies(corpus, { ...this.settings, lead: true });
    const sparse = new SparseTfidf(this.settings, df, fit.minDf, this.weights);
    const id = `${sparse.id}-corpus-${corpusDigest(corpus)}`;
    return { id, features: (text) => sparse.features(text) };
  }

  private sparseTfidf(): SparseTfidf {
    if (!this.sparse) {
      const fit = this.fitted;
      const df = fit ? countDocumentFrequencies(fit.texts, { ...this.settings, lead: true }) : undefined;
      this.sparse = new SparseTfidf(this.settings, df, fit?.minDf ?? 0, this.weights);
    }
    return this.sparse;
  }

  /** The uncentered, L2-normalized vector of a text, as index -> value (only the non-zero entries). */
  private rawFeatures(text: string): Map<number, number> {
    const features = extractFeatures(text, this.settings);
    const vector = new Map<number, number>();
    this.addGroup(vector, features.words, this.weights.words);
    if (this.settings.charNgrams) this.addGroup(vector, features.chars, this.weights.chars);
    let sum = 0;
    for (const v of vector.values()) sum += v * v;
    const norm = Math.sqrt(sum);
    if (norm > 0) for (const [i, v] of vector) vector.set(i, v / norm);
    return vector;
  }

  /** Adds one feature group, normalized to unit length and scaled by its weight. */
  private addGroup(vector: Map<number, number>, counts: FeatureCounts, weight: number): void {
    if (weight === 0 || counts.size === 0) return;
    const fit = this.fitted;
    const hashes: number[] = [];
    const values: number[] = [];
    for (const [hash, tf] of counts) {
      const idf = !fit ? 1 : (fit.known.get(hash) ?? (fit.minDf === 0 ? idfWeight(fit.df, hash) : undefined));
      if (idf === undefined) continue;
      hashes.push(hash);
      values.push((1 + Math.log(tf)) * idf);
    }
    if (fit && hashes.length === 0) {
      // Nothing this text says is common enough in the corpus: keep every feature rather than none.
      for (const [hash, tf] of counts) {
        hashes.push(hash);
        values.push((1 + Math.log(tf)) * idfWeight(fit.df, hash));
      }
    }
    let sum = 0;
    for (const v of values) sum += v * v;
    const scale = weight / Math.sqrt(sum);
    for (let k = 0; k < hashes.length; k++) {
      const mixed = fmix32(hashes[k]!);
      const index = mixed % this.dim;
      vector.set(index, (vector.get(index) ?? 0) + (mixed & 0x80000000 ? -scale : scale) * values[k]!);
    }
  }

  /** The mean of the corpus texts' uncentered vectors, summed in sorted-corpus order. */
  private corpusMean(texts: readonly string[]): Float64Array {
    const mean = new Float64Array(this.dim);
    for (const text of texts) for (const [i, v] of this.rawFeatures(text)) mean[i]! += v;
    for (let i = 0; i < mean.length; i++) mean[i]! /= texts.length;
    return mean;
  }
}
