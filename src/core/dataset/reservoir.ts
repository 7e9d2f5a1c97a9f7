import { seededRandom } from "../vector-math.js";

/**
 * A uniform sample of at most `size` items from a stream of unknown length (reservoir sampling,
 * Algorithm R), seeded so the same input and seed give the same sample on every machine.
 */
export class Reservoir<T> {
  private readonly items: T[] = [];
  private seen = 0;
  private readonly random: () => number;

  constructor(
    private readonly size: number,
    seed: number,
  ) {
    if (!Number.isInteger(size) || size < 0)
      throw new RangeError(`size must be an integer >= 0, got ${size}.`);
    this.random = seededRandom(seed);
  }

  /** Offers one item; it is kept with probability size / items seen. */
  offer(item: T): void {
    this.seen++;
    if (this.items.length < this.size) {
      this.items.push(item);
      return;
    }
    const j = Math.floor(this.random() * this.seen);
    if (j < this.size) this.items[j] = item;
  }

  /** The sample, in reservoir order. */
  get sample(): readonly T[] {
    return this.items;
  }
}
