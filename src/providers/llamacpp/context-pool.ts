import { AbortError } from "../../core/errors.js";

/** Settings of a {@link ContextPool}. */
export interface ContextPoolOptions<T> {
  /** Most values kept; the least recently used idle one is disposed beyond it. */
  maxSize: number;
  /** Creates the value for a key (e.g. a llama.cpp context with that adapter set). */
  create(key: string): Promise<T>;
  /** Frees a value evicted or closed. */
  dispose(value: T): Promise<void>;
}

/** Exclusive use of one pooled value; call `release()` exactly once when done. */
export interface Lease<T> {
  readonly value: T;
  /** True when this lease created the value (a cache miss). */
  readonly created: boolean;
  release(): void;
}

interface Entry<T> {
  value: Promise<T>;
  busy: boolean;
  waiters: (() => void)[];
}

/**
 * An LRU cache of expensive values (llama.cpp contexts, one per adapter set) handed out one user
 * at a time: a second user of the same key waits in FIFO order, so two requests never share a
 * context sequence and their output never mixes. Busy values are never evicted; the pool may
 * exceed `maxSize` while all values are busy and shrinks back as they are released.
 */
export class ContextPool<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private closed = false;

  constructor(private readonly options: ContextPoolOptions<T>) {
    if (!Number.isInteger(options.maxSize) || options.maxSize < 1) {
      throw new RangeError(`maxSize must be a positive integer, got ${options.maxSize}.`);
    }
  }

  /** The number of values held. */
  get size(): number {
    return this.entries.size;
  }

  /** The keys held, least recently used first. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * Waits for exclusive use of the value for `key`, creating it on a miss.
   * @throws AbortError when `signal` aborts while waiting; the create error when creation fails
   */
  async acquire(key: string, signal?: AbortSignal): Promise<Lease<T>> {
    if (this.closed) throw new Error("The context pool is closed.");
    signal?.throwIfAborted();
    let entry = this.entries.get(key);
    const created = entry === undefined;
    if (entry === undefined) {
      entry = { value: this.options.create(key), busy: false, waiters: [] };
      // Failed creations are dropped so the next acquire retries.
      entry.value.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    const e = entry;
    if (e.busy) await waitTurn(e, signal);
    e.busy = true;
    let value: T;
    try {
      value = await e.value;
    } catch (error) {
      this.release(e);
      throw error;
    }
    void this.evict();
    let released = false;
    return {
      value,
      created,
      release: () => {
        if (released) return;
        released = true;
        this.release(e);
      },
    };
  }

  /** Disposes every value. Values in use are disposed when released. */
  async close(): Promise<void> {
    this.closed = true;
    await this.evict(true);
  }

  private release(entry: Entry<T>): void {
    const next = entry.waiters.shift();
    if (next) next();
    else entry.busy = false;
    void this.evict(this.closed);
  }

  private async evict(all = false): Promise<void> {
    const disposals: Promise<void>[] = [];
    for (const [key, entry] of this.entries) {
      if (!all && this.entries.size <= this.options.maxSize) break;
      if (entry.busy || entry.waiters.length > 0) continue;
      this.entries.delete(key);
      // A value that failed to create has nothing to free; a failed disposal leaves nothing to retry.
      disposals.push(entry.value.then((v) => this.options.dispose(v)).catch(() => {}));
    }
    await Promise.all(disposals);
  }
}

function waitTurn(entry: Entry<unknown>, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      const i = entry.waiters.indexOf(turn);
      if (i >= 0) entry.waiters.splice(i, 1);
      reject(new AbortError("The request was aborted while waiting for a llama.cpp context."));
    };
    const turn = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    entry.waiters.push(turn);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
