import { createHash } from "node:crypto";

/** Settings of {@link Hash64Set}. */
export interface Hash64SetOptions {
  /**
   * The most slots the table may grow to (a power of two); each slot is 8 bytes. At 3/4 load the
   * set stops growing and stops remembering new rows (see `saturated`).
   * @default 2 ** 23 (64 MiB, room for 6.3 million distinct rows)
   */
  maxSlots?: number;
}

const INITIAL_SLOTS = 1 << 16;

/**
 * A set of 64-bit hashes (the first 8 bytes of MD5) in an open-addressing table of two Uint32Arrays:
 * 8 bytes per slot, no object per entry, so memory is bounded by `maxSlots` whatever the input size.
 * Two different texts collide with probability about n² / 2⁶⁵ (under 10⁻⁶ for 6 million rows).
 */
export class Hash64Set {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private count = 0;
  private readonly maxSlots: number;
  /** True once the table is full: later texts are not remembered (and never reported as duplicates). */
  saturated = false;

  constructor(options: Hash64SetOptions = {}) {
    const max = options.maxSlots ?? 2 ** 23;
    if (!Number.isInteger(Math.log2(max)) || max < 16) {
      throw new RangeError(`maxSlots must be a power of two >= 16, got ${max}.`);
    }
    this.maxSlots = max;
    const slots = Math.min(INITIAL_SLOTS, max);
    this.hi = new Uint32Array(slots);
    this.lo = new Uint32Array(slots);
  }

  /** Distinct hashes remembered. */
  get size(): number {
    return this.count;
  }

  /** Bytes held by the table now. */
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength;
  }

  /** The most bytes the table can take. */
  get maxBytes(): number {
    return this.maxSlots * 8;
  }

  /** Adds the text's hash; false when it was already there (a duplicate). */
  add(text: string): boolean {
    const digest = createHash("md5").update(text).digest();
    let hi = digest.readUInt32LE(0);
    const lo = digest.readUInt32LE(4);
    if (hi === 0 && lo === 0) hi = 1; // (0, 0) marks an empty slot
    const mask = this.hi.length - 1;
    let i = lo & mask;
    while (this.hi[i] !== 0 || this.lo[i] !== 0) {
      if (this.hi[i] === hi && this.lo[i] === lo) return false;
      i = (i + 1) & mask;
    }
    if ((this.count + 1) * 4 > this.hi.length * 3) {
      if (this.hi.length >= this.maxSlots) {
        this.saturated = true;
        return true;
      }
      this.grow();
      return this.add(text);
    }
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.count++;
    return true;
  }

  private grow(): void {
    const oldHi = this.hi;
    const oldLo = this.lo;
    this.hi = new Uint32Array(oldHi.length * 2);
    this.lo = new Uint32Array(oldLo.length * 2);
    const mask = this.hi.length - 1;
    for (let j = 0; j < oldHi.length; j++) {
      const hi = oldHi[j]!;
      const lo = oldLo[j]!;
      if (hi === 0 && lo === 0) continue;
      let i = lo & mask;
      while (this.hi[i] !== 0 || this.lo[i] !== 0) i = (i + 1) & mask;
      this.hi[i] = hi;
      this.lo[i] = lo;
    }
  }
}
