/**
 * A read-only hash table from 32-bit integer keys to numbers (open addressing, linear probing).
 * Each slot is a [key, value] pair side by side in one Float64Array, so a lookup touches one cache
 * line; NaN marks an empty slot. Looking up feature hashes in it costs a fraction of a `Map` lookup,
 * which matters on the routing hot path: a prompt has hundreds of features.
 */
export class IntTable {
  private readonly slots: Float64Array;
  private readonly mask: number;
  /** Entries in the table. */
  readonly size: number;

  constructor(entries: Iterable<readonly [number, number]>) {
    const list = [...entries];
    let capacity = 16;
    while (capacity < list.length * 2) capacity *= 2;
    this.slots = new Float64Array(capacity * 2).fill(Number.NaN);
    this.mask = capacity - 1;
    let size = 0;
    for (const [key, value] of list) {
      if (Number.isNaN(value)) throw new RangeError("IntTable values cannot be NaN.");
      const k = key | 0;
      let i = slot(k) & this.mask;
      while (!Number.isNaN(this.slots[2 * i + 1]!) && this.slots[2 * i] !== k) i = (i + 1) & this.mask;
      if (Number.isNaN(this.slots[2 * i + 1]!)) size++;
      this.slots[2 * i] = k;
      this.slots[2 * i + 1] = value;
    }
    this.size = size;
  }

  /** The value of `key`, or undefined. */
  get(key: number): number | undefined {
    const k = key | 0;
    const slots = this.slots;
    let i = slot(k) & this.mask;
    for (;;) {
      const value = slots[2 * i + 1]!;
      if (Number.isNaN(value)) return undefined; // an empty slot
      if (slots[2 * i] === k) return value;
      i = (i + 1) & this.mask;
    }
  }
}

/** Spreads a key's bits over the table (keys are often hashes already; this guards against patterns). */
function slot(key: number): number {
  return Math.imul(key ^ (key >>> 16), 0x45d9f3b) >>> 0;
}
