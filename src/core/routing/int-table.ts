/**
 * A read-only hash table from 32-bit integer keys to numbers (open addressing, linear probing, in
 * typed arrays). Looking up feature hashes in it costs a fraction of a `Map` lookup, which matters
 * on the routing hot path: a prompt has hundreds of features.
 */
export class IntTable {
  private readonly keys: Int32Array;
  private readonly values: Float64Array;
  private readonly used: Uint8Array;
  private readonly mask: number;
  /** Entries in the table. */
  readonly size: number;

  constructor(entries: Iterable<readonly [number, number]>) {
    const list = [...entries];
    let capacity = 16;
    while (capacity < list.length * 2) capacity *= 2;
    this.keys = new Int32Array(capacity);
    this.values = new Float64Array(capacity);
    this.used = new Uint8Array(capacity);
    this.mask = capacity - 1;
    let size = 0;
    for (const [key, value] of list) {
      let i = slot(key | 0) & this.mask;
      while (this.used[i] && this.keys[i] !== (key | 0)) i = (i + 1) & this.mask;
      if (!this.used[i]) size++;
      this.used[i] = 1;
      this.keys[i] = key | 0;
      this.values[i] = value;
    }
    this.size = size;
  }

  /** The value of `key`, or undefined. */
  get(key: number): number | undefined {
    const k = key | 0;
    let i = slot(k) & this.mask;
    while (this.used[i]) {
      if (this.keys[i] === k) return this.values[i];
      i = (i + 1) & this.mask;
    }
    return undefined;
  }
}

/** Spreads a key's bits over the table (keys are often hashes already; this guards against patterns). */
function slot(key: number): number {
  return Math.imul(key ^ (key >>> 16), 0x45d9f3b) >>> 0;
}
