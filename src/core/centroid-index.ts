/** A stored vector: an expert centroid, or one example prompt of an expert (for the knn strategy). */
export interface IndexEntry {
  /** Unique within the collection, e.g. the expert name for centroids or `code#12` for examples. */
  id: string;
  /** The expert the vector belongs to. */
  expert: string;
  vector: Float32Array;
  /** Extra metadata stored with the vector (description, model, ...). */
  metadata?: Record<string, string | number | boolean>;
}

/** One query result. */
export interface IndexHit {
  id: string;
  expert: string;
  /** Cosine distance, 1 - cosine similarity, in [0, 2]. */
  distance: number;
}

/**
 * A vector store for expert centroids and examples. Collections are named by the caller
 * (Herd uses one per embedder id and kind, e.g. `herd-centroids-<embedder id>`).
 * Implementations: `memory` (in process, the default) and `chroma` (a Chroma server).
 */
export interface CentroidIndex {
  /** The implementation's registry name, e.g. `memory` or `chroma`. */
  readonly kind: string;
  /** Inserts or replaces entries by id. Creates the collection when missing. */
  upsert(collection: string, entries: readonly IndexEntry[]): Promise<void>;
  /** Removes entries by id; without ids, drops the whole collection. */
  remove(collection: string, ids?: readonly string[]): Promise<void>;
  /** The k nearest entries by cosine distance, nearest first. An empty or missing collection gives []. */
  query(collection: string, vector: Float32Array, k: number): Promise<IndexHit[]>;
  /** Every entry of the collection (vectors included). A missing collection gives []. */
  list(collection: string): Promise<IndexEntry[]>;
  /** Checks that the store is reachable; throws ProviderUnavailableError when not. */
  health(): Promise<void>;
  /** Releases connections. */
  close?(): Promise<void>;
}
