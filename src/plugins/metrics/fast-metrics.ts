import type { Registry } from "prom-client";

/** One label combination's values. */
interface Cell {
  labels: Record<string, string>;
  /** Counter: [value]. Histogram: one count per bucket (not cumulative), then sum, then count. */
  values: Float64Array;
}

interface Settings<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

/** The label values of one combination (optional ones, like `error_type`, may be left out). */
export type Labels<L extends string> = Partial<Record<L, string>> & Record<string, string>;

/** Most label combinations one metric keeps; beyond it new ones land in one `overflow` cell. */
const MAX_CELLS = 2000;

/**
 * The request-path counters and histograms. prom-client's own `observe` validates and hashes the
 * label object on every call (about 5 µs per histogram observation on Node 20); these take a key the
 * caller has already built and do one Map lookup and a few additions, and prom-client's registry
 * formats them at scrape time like its own metrics (they implement the same `get()` contract).
 */
abstract class FastMetric<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = "sum";
  abstract readonly type: "counter" | "histogram";
  protected readonly cells = new Map<string, Cell>();

  constructor(settings: Settings<L>) {
    this.name = settings.name;
    this.help = settings.help;
    this.labelNames = settings.labelNames;
    // The registry only needs name, help, type and get(); the cast is to prom-client's Metric class type.
    for (const registry of settings.registers) registry.registerMetric(this as never);
  }

  /** Clears every value (prom-client's `registry.resetMetrics()`). */
  reset(): void {
    this.cells.clear();
  }

  protected cell(key: string, labels: () => Labels<L>, size: number): Cell {
    let cell = this.cells.get(key);
    if (cell === undefined) {
      const overflow = this.cells.size >= MAX_CELLS;
      const at = overflow ? "\u0000overflow" : key;
      cell = this.cells.get(at);
      if (cell === undefined) {
        const named: Record<string, string> = overflow
          ? { [this.labelNames[0] ?? "overflow"]: "overflow" }
          : labels();
        cell = { labels: named, values: new Float64Array(size) };
        this.cells.set(at, cell);
      }
    }
    return cell;
  }
}

/** A counter whose label combination is named by a caller-built key. */
export class FastCounter<L extends string> extends FastMetric<L> {
  readonly type = "counter";

  /** Adds `by` to the cell `key`; `labels` is called only the first time a key is seen. */
  inc(key: string, labels: () => Labels<L>, by = 1): void {
    this.cell(key, labels, 1).values[0]! += by;
  }

  async get() {
    const values = [...this.cells.values()].map((c) => ({ labels: c.labels, value: c.values[0]! }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** A histogram whose label combination is named by a caller-built key. */
export class FastHistogram<L extends string> extends FastMetric<L> {
  readonly type = "histogram";
  private readonly buckets: readonly number[];

  constructor(settings: Settings<L> & { buckets: readonly number[] }) {
    super(settings);
    this.buckets = [...settings.buckets].sort((a, b) => a - b);
  }

  /**
   * Records `value` in the cell `key`; `labels` is called only the first time a key is seen. A
   * value that is not a finite number is dropped.
   */
  observe(key: string, labels: () => Labels<L>, value: number): void {
    // One NaN (a backend's malformed usage count) would turn the cell's sum into NaN for good.
    if (!Number.isFinite(value)) return;
    const n = this.buckets.length;
    const values = this.cell(key, labels, n + 3).values;
    let b = 0;
    while (b < n && value > this.buckets[b]!) b++;
    values[b]! += 1; // b === n: above every bound, counted in +Inf only
    values[n + 1]! += value;
    values[n + 2]! += 1;
  }

  async get() {
    const n = this.buckets.length;
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const { labels, values: v } of this.cells.values()) {
      let cumulative = 0;
      for (let b = 0; b < n; b++) {
        cumulative += v[b]!;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le: this.buckets[b]!, ...labels },
          value: cumulative,
        });
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", ...labels }, value: v[n + 2]! });
      values.push({ metricName: `${this.name}_sum`, labels, value: v[n + 1]! });
      values.push({ metricName: `${this.name}_count`, labels, value: v[n + 2]! });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
