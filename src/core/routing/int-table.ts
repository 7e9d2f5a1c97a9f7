/**
 * A read-only hash table from 32-bit integer keys to non-negative 32-bit integer values (open
 * addressing, linear probing), such as feature hash -> weight row. Each slot is a [key, value] pair
 * side by side in one Int32Array (8 bytes), so a lookup touches one cache line and a table of tens of
 * thousands of features stays small enough to stay in cache; -1 marks an empty slot. Looking up
 * feature hashes in it costs a fraction of a `Map` lookup, which matters on the routing hot path: a
 * prompt has hundreds of features.
 */
export class IntTable {
  private readonly slots: Int32Array;
  private readonly mask: number;
  /** Entries in the table. */
  readonly size: number;

  constructor(entries: Iterable<readonly [number, number]>) {
    const list = [...entries];
    let capacity = 16;
    while (capacity < list.length * 2) capacity *= 2;
    this.slots = new Int32Array(capacity * 2).fill(-1);
    this.mask = capacity - 1;
    let size = 0;
    for (const [key, value] of list) {
      if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
        throw new RangeError(`IntTable values must be integers from 0 to 2^31 - 1, got ${value}.`);
      }
      const k = key | 0;
      let i = slot(k) & this.mask;
      while (this.slots[2 * i + 1]! >= 0 && this.slots[2 * i] !== k) i = (i + 1) & this.mask;
      if (this.slots[2 * i + 1]! < 0) size++;
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
      if (value < 0) return undefined; // an empty slot
      if (slots[2 * i] === k) return value;
      i = (i + 1) & this.mask;
    }
  }
}

/** Spreads a key's bits over the table (keys are often hashes already; this guards against patterns). */
function slot(key: number): number {
  return Math.imul(key ^ (key >>> 16), 0x45d9f3b) >>> 0;
}
