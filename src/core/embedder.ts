import type { SparseFeatures } from "./routing/linear-model.js";

/** Options for one embedding call. */
export interface EmbedOptions {
  signal?: AbortSignal;
}

/**
 * Turns texts into vectors. Implementations: `hashing` (offline), `ollama` (/api/embed),
 * `llamacpp` (a GGUF embedding model in process).
 */
export interface Embedder {
  /**
   * A stable id naming the embedder AND its settings (e.g. `hashing-v1-d1024`,
   * `ollama-nomic-embed-text`). Centroids are stored per id: a different id means different vectors.
   */
  readonly id: string;
  /** The vector length. May call the backend once to find out. */
  dimension(options?: EmbedOptions): Promise<number>;
  /** Embeds the texts, one vector per text, in order. Vectors are L2-normalized. */
  embed(texts: readonly string[], options?: EmbedOptions): Promise<Float32Array[]>;
  /**
   * Optional: the text's sparse features (unfolded feature keys and values), synchronously. The
   * `linear` strategy learns from these when present, and from `embed`'s dense vectors otherwise.
   */
  sparseFeatures?(text: string): SparseFeatures;
  /** Names the sparse features' settings; with `id`, it keys the stored linear model. */
  readonly sparseFeaturesId?: string;
  /**
   * Optional: sparse features that also know `texts` (e.g. the examples of experts added at run
   * time, whose words a corpus-fitted embedder would drop), or undefined when `sparseFeatures`
   * already does. The `linear` strategy asks with the examples it is trained on.
   */
  sparseFeaturesFor?(texts: readonly string[]): SparseFeatureSource | undefined;
}

/** Sparse features fitted on a corpus, named by `id` (settings and corpus). */
export interface SparseFeatureSource {
  readonly id: string;
  features(text: string): SparseFeatures;
}
