/** One finished request as the playground's live view shows it: where it went, why, and how fast. */
export interface RecentDecision {
  /** When the request ended, ISO 8601. */
  at: string;
  requestId: string;
  /** The model that ran, or `none` when the request failed before choosing one. */
  model: string;
  /** `routed`, `forced`, `below-threshold`, `base-only`, `sticky`, or `fallback` (the base model took over). */
  reason: string;
  /** The selected experts and their blend weights (empty when the base model answered). */
  experts: { name: string; weight: number }[];
  /** `200`, or the error's HTTP status (`499` when the caller cancelled). */
  status: string;
  /** Milliseconds from the request entering Herd to its end. */
  durationMs: number;
  /** Milliseconds spent routing. */
  routingMs: number;
}

/** A decision as stored: the time as a number, formatted only when read. */
type Stored = Omit<RecentDecision, "at"> & { at: number };

/** A fixed-size ring of the latest decisions, newest first on read. Never grows past `capacity`. */
export class RecentDecisions {
  private readonly items: Stored[] = [];
  private next = 0;

  constructor(readonly capacity: number) {}

  /** Adds a decision; `at` is `Date.now()` when it ended. */
  add(item: Stored): void {
    if (this.capacity <= 0) return;
    if (this.items.length < this.capacity) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  /** The decisions, newest first. */
  list(): RecentDecision[] {
    const n = this.items.length;
    const out: RecentDecision[] = [];
    for (let i = 1; i <= n; i++) {
      const item = this.items[(this.next - i + n) % n]!;
      out.push({ ...item, at: new Date(item.at).toISOString() });
    }
    return out;
  }
}
