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
 * context sequence and their output never mixes. `maxSize` is a hard cap (contexts hold the KV
 * cache memory): a new key evicts the least recently used idle value, and waits when every value
 * is in use.
 */
export class ContextPool<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private roomWaiters: (() => void)[] = [];
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
    for (;;) {
      if (this.closed) throw new Error("The context pool is closed.");
      throwIfAborted(signal);
      let entry = this.entries.get(key);
      const created = entry === undefined;
      if (entry === undefined) {
        let room: Promise<void> = Promise.resolve();
        if (this.entries.size >= this.options.maxSize) {
          const freed = this.evictOne();
          if (!freed) {
            await waitFor(this.roomWaiters, signal);
            continue;
          }
          room = freed;
        }
        // The entry takes its slot now; the value is created once the evicted one is freed.
        entry = { value: room.then(() => this.options.create(key)), busy: false, waiters: [] };
        const e = entry;
        e.value.catch(() => {
          // Failed creations are dropped so the next acquire retries.
          if (this.entries.get(key) === e) this.entries.delete(key);
          this.wakeRoomWaiters();
        });
      }
      this.entries.delete(key);
      this.entries.set(key, entry);
      return this.lease(entry, created, signal);
    }
  }

  /** Disposes every value. Values in use are disposed when released. */
  async close(): Promise<void> {
    this.closed = true;
    const idle = [...this.entries].filter(([, e]) => !e.busy && e.waiters.length === 0);
    await Promise.all(idle.map(([key]) => this.remove(key)));
    this.wakeRoomWaiters();
  }

  private async lease(entry: Entry<T>, created: boolean, signal?: AbortSignal): Promise<Lease<T>> {
    if (entry.busy) await waitFor(entry.waiters, signal);
    entry.busy = true;
    let value: T;
    try {
      value = await entry.value;
    } catch (error) {
      this.release(entry);
      throw error;
    }
    let released = false;
    return {
      value,
      created,
      release: () => {
        if (released) return;
        released = true;
        this.release(entry);
      },
    };
  }

  private release(entry: Entry<T>): void {
    const next = entry.waiters.shift();
    if (next) {
      next();
      return;
    }
    entry.busy = false;
    if (this.closed) {
      for (const [key, e] of this.entries) if (e === entry) void this.remove(key);
    }
    this.wakeRoomWaiters();
  }

  /** Evicts the least recently used idle value; undefined when every value is in use. */
  private evictOne(): Promise<void> | undefined {
    for (const [key, entry] of this.entries) {
      if (!entry.busy && entry.waiters.length === 0) return this.remove(key);
    }
    return undefined;
  }

  private remove(key: string): Promise<void> {
    const entry = this.entries.get(key);
    this.entries.delete(key);
    // A value that failed to create has nothing to free; a failed disposal leaves nothing to retry.
    return entry ? entry.value.then((v) => this.options.dispose(v)).catch(() => {}) : Promise.resolve();
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError("The request was aborted while waiting for a llama.cpp context.");
}

/** Queues a wake-up callback in `queue`; rejects with AbortError (leaving the queue) on abort. */
function waitFor(queue: (() => void)[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      const i = queue.indexOf(turn);
      if (i >= 0) queue.splice(i, 1);
      reject(new AbortError("The request was aborted while waiting for a llama.cpp context."));
    };
    const turn = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    queue.push(turn);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
