import type { CentroidIndex, IndexEntry, IndexHit } from "../../core/centroid-index.js";
import { DimensionMismatchError } from "../../core/errors.js";
import { dot, norm } from "../../core/vector-math.js";

/**
 * The in-process centroid index (the embedded default): exact cosine search over a few
 * thousand vectors at most, with nothing to install or start.
 */
export class MemoryIndex implements CentroidIndex {
  readonly kind = "memory";
  private readonly collections = new Map<string, Map<string, IndexEntry & { norm: number }>>();

  async upsert(collection: string, entries: readonly IndexEntry[]): Promise<void> {
    const map = this.collections.get(collection) ?? new Map<string, IndexEntry & { norm: number }>();
    const dimension = map.values().next().value?.vector.length ?? entries[0]?.vector.length;
    for (const entry of entries) {
      if (entry.vector.length !== dimension) {
        throw new DimensionMismatchError(
          `Collection "${collection}" holds vectors of dimension ${dimension}; "${entry.id}" has ${entry.vector.length}.`,
        );
      }
    }
    for (const entry of entries) {
      const vector = Float32Array.from(entry.vector);
      map.set(entry.id, { ...entry, vector, norm: norm(vector) });
    }
    this.collections.set(collection, map);
  }

  async remove(collection: string, ids?: readonly string[]): Promise<void> {
    if (!ids) {
      this.collections.delete(collection);
      return;
    }
    const map = this.collections.get(collection);
    for (const id of ids) map?.delete(id);
  }

  async query(collection: string, vector: Float32Array, k: number): Promise<IndexHit[]> {
    const map = this.collections.get(collection);
    if (!map || k < 1) return [];
    const queryNorm = norm(vector);
    const hits: IndexHit[] = [];
    for (const entry of map.values()) {
      if (entry.vector.length !== vector.length) {
        throw new DimensionMismatchError(
          `Collection "${collection}" holds vectors of dimension ${entry.vector.length}; the query has ${vector.length}.`,
        );
      }
      const n = entry.norm * queryNorm;
      hits.push({
        id: entry.id,
        expert: entry.expert,
        distance: 1 - (n === 0 ? 0 : dot(entry.vector, vector) / n),
      });
    }
    hits.sort((a, b) => a.distance - b.distance || a.id.localeCompare(b.id));
    return hits.slice(0, k);
  }

  async list(collection: string): Promise<IndexEntry[]> {
    return [...(this.collections.get(collection)?.values() ?? [])].map(({ norm: _norm, ...entry }) => ({
      ...entry,
      vector: Float32Array.from(entry.vector),
    }));
  }

  async health(): Promise<void> {}
}
