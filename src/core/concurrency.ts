import { AbortError, ProviderResponseError } from "./errors.js";

/** Settings of a `ConcurrencyLimiter`. */
export interface ConcurrencyLimiterOptions {
  /** Holders at once. @default 4 */
  limit?: number;
  /** Callers allowed to wait; one more fails fast. @default Infinity */
  queue?: number;
  /** Named in the "too busy" error, e.g. `chat provider "ollama"`. @default "backend" */
  label?: string;
}

interface Waiter {
  grant: (release: () => void) => void;
}

/**
 * A counting semaphore with a bounded FIFO queue, so one backend never gets more than `limit`
 * requests at once. `acquire` resolves to a release function; call it exactly once.
 */
export class ConcurrencyLimiter {
  private readonly limit: number;
  private readonly queueLimit: number;
  private readonly label: string;
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(options: ConcurrencyLimiterOptions = {}) {
    this.limit = Math.max(1, options.limit ?? 4);
    this.queueLimit = Math.max(0, options.queue ?? Number.POSITIVE_INFINITY);
    this.label = options.label ?? "backend";
  }

  /** Holders right now. */
  get running(): number {
    return this.active;
  }

  /** Callers waiting right now. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Waits for a free slot. Rejects with `AbortError` when the signal fires while waiting, and with a
   * retryable 503 `ProviderResponseError` when the queue is full.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new AbortError());
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.queueLimit) {
      return Promise.reject(
        new ProviderResponseError(
          `Too many requests for ${this.label}: ${this.active} running and ${this.waiting.length} waiting. ` +
            "Retry later, or raise concurrency.generation / concurrency.queue in the config.",
          503,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new AbortError());
      };
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.grant(this.releaser());
      else this.active--;
    };
  }
}
