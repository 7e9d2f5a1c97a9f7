import type { CentroidIndex, IndexEntry } from "./centroid-index.js";
import {
  type BuildCentroidsOptions,
  buildCentroids,
  type CentroidSet,
  CentroidStore,
  checkCentroid,
  embedAll,
  examplesHash,
  isCentroidSetFresh,
} from "./centroid-store.js";
import type { Embedder } from "./embedder.js";
import {
  AbortError,
  ConfigError,
  DimensionMismatchError,
  InvalidInputError,
  ProviderResponseError,
  UnknownExpertError,
} from "./errors.js";
import type { Expert, ExpertSet } from "./expert.js";
import { validateExpert } from "./experts.js";
import { LinearRouting } from "./linear-routing.js";
import type { LinearTrainingOptions, TrainedLinearModel } from "./linear-store.js";
import type {
  RankedExpert,
  RouteInput,
  RouteOptions,
  RouterOptions,
  RouterService,
  RoutingDecision,
  RoutingStrategy,
} from "./routing.js";
import { DEFAULT_MAX_ROUTING_CHARS, routingText } from "./routing-text.js";
import { blendWeights } from "./weights.js";

/** Everything a Router needs. */
export interface RouterInit {
  experts: ExpertSet;
  embedder: Embedder;
  index: CentroidIndex;
  options?: RouterOptions;
  /** Where centroids are stored per embedder (e.g. `experts/centroids`); without it they are rebuilt in memory. */
  centroidsDir?: string;
  /** How centroids are built when missing or stale (samples, seed, progress). */
  build?: Omit<BuildCentroidsOptions, "signal">;
  /** How the `linear` strategy is trained when its stored model is missing or stale (C, folds). */
  linear?: Omit<LinearTrainingOptions, "signal">;
}

/** The router's settings with defaults applied (`calibrationTemperature` stays optional). */
export type RouterSettings = Required<Omit<RouterOptions, "calibrationTemperature">> &
  Pick<RouterOptions, "calibrationTemperature">;

/**
 * The collection names used for one embedder. The examples collection (knn) is also named by a hash of
 * the expert set's examples, so replicas with the same experts share it and a replica with other
 * examples never rewrites the one others are reading.
 */
export function collectionNames(
  embedderId: string,
  experts: readonly Pick<Expert, "name" | "examples">[] = [],
): { centroids: string; examples: string } {
  const hash = examplesHash(experts.flatMap((e) => [`\u0001${e.name}`, ...e.examples])).slice(0, 12);
  return { centroids: `centroids-${embedderId}`, examples: `examples-${embedderId}-${hash}` };
}

function validateOptions(o: RouterOptions & RouteOptions, where: string): void {
  const check = (ok: boolean, field: string, message: string) => {
    if (!ok) throw new ConfigError(`${where}.${field} ${message}`, `${where}.${field}`);
  };
  if (o.topExperts !== undefined) {
    check(
      Number.isInteger(o.topExperts) && o.topExperts >= 1,
      "topExperts",
      `must be an integer >= 1, got ${o.topExperts}.`,
    );
  }
  if (o.threshold !== undefined) {
    check(
      Number.isFinite(o.threshold) && o.threshold >= -1 && o.threshold <= 1,
      "threshold",
      "must be a similarity in [-1, 1].",
    );
  }
  if (o.temperature !== undefined) {
    check(Number.isFinite(o.temperature) && o.temperature > 0, "temperature", "must be a positive number.");
  }
  const calibration = (o as RouterOptions).calibrationTemperature;
  if (calibration !== undefined) {
    check(
      Number.isFinite(calibration) && calibration > 0,
      "calibrationTemperature",
      "must be a positive number.",
    );
  }
  if (o.k !== undefined)
    check(Number.isInteger(o.k) && o.k >= 1, "k", `must be an integer >= 1, got ${o.k}.`);
  if (o.maxTextChars !== undefined) {
    check(
      Number.isInteger(o.maxTextChars) && o.maxTextChars >= 2,
      "maxTextChars",
      `must be an integer >= 2, got ${o.maxTextChars}.`,
    );
  }
  if (o.strategy !== undefined) {
    check(
      ["linear", "centroid", "knn"].includes(o.strategy),
      "strategy",
      `must be "linear", "centroid" or "knn", got "${o.strategy}".`,
    );
  }
  if (o.weighting !== undefined) {
    check(
      ["inverse-distance", "softmax"].includes(o.weighting),
      "weighting",
      `must be "inverse-distance" or "softmax", got "${o.weighting}".`,
    );
  }
}

/**
 * Picks the expert(s) for a prompt: by the calibrated probabilities of a logistic regression
 * trained on the experts' examples (`linear`, the default), by the distance between its embedding
 * and each expert's centroid (`centroid`, the original Herd) or by the mean distance to each
 * expert's k nearest example prompts (`knn`, airoboros LMoE). Models and centroids are trained or
 * built on first use when missing or stale, and stored per embedder.
 *
 * @example
 * const router = new Router({ experts, embedder: new HashingEmbedder(), index: new MemoryIndex() });
 * const decision = await router.route("Write a haiku about the sea", { topExperts: 2 });
 * decision.selected; // [{ name: "creative", weight: 0.6, ... }, ...]
 */
export class Router implements RouterService {
  private expertSet: ExpertSet;
  private readonly embedder: Embedder;
  private readonly index: CentroidIndex;
  private readonly options: RouterSettings;
  private readonly store: CentroidStore | undefined;
  private readonly linear: LinearRouting;
  private readonly buildOptions: Omit<BuildCentroidsOptions, "signal">;
  private centroidsReady: Promise<void> | undefined;
  private examplesReady: Promise<{ collection: string; count: number }> | undefined;
  /** A rewrite of a lost index in flight, shared by the routes that found it empty. */
  private rewriting: Promise<unknown> | undefined;
  /** Bumped whenever the expert set changes; a build for an older set does not write the index. */
  private generation = 0;

  constructor(init: RouterInit) {
    validateOptions(init.options ?? {}, "router");
    this.expertSet = init.experts;
    this.embedder = init.embedder;
    this.index = init.index;
    this.store = init.centroidsDir ? new CentroidStore(init.centroidsDir) : undefined;
    this.linear = new LinearRouting(init.embedder, init.centroidsDir, init.linear);
    this.buildOptions = init.build ?? {};
    this.options = {
      strategy: "linear",
      weighting: "inverse-distance",
      temperature: 0.05,
      topExperts: 1,
      threshold: 0,
      k: 5,
      textMode: "last-user",
      maxTextChars: DEFAULT_MAX_ROUTING_CHARS,
      ...stripUndefined(init.options ?? {}),
    };
    const given = init.options ?? {};
    if (
      this.options.strategy === "linear" &&
      (given.weighting !== undefined || given.temperature !== undefined)
    ) {
      process.emitWarning(
        "router.weighting and router.temperature apply to the centroid and knn strategies; the linear strategy " +
          "(the default) blends by its calibrated probabilities. Remove them, or set router.strategy.",
        { code: "HERD_LINEAR_IGNORES_WEIGHTING" },
      );
    }
  }

  /** The current expert set. */
  get experts(): ExpertSet {
    return this.expertSet;
  }

  /** The embedder id distances are computed with. */
  get embedderId(): string {
    return this.embedder.id;
  }

  /** The router's settings (defaults applied). */
  get settings(): Readonly<RouterSettings> {
    return this.options;
  }

  /**
   * Makes sure the default strategy is ready: a fresh linear model (`linear`), or fresh centroids in
   * the index (and the examples too for `knn`).
   */
  async prepare(): Promise<void> {
    if (this.options.strategy === "linear") {
      await this.ensureLinear();
      return;
    }
    await this.ensureCentroids();
    if (this.options.strategy === "knn") await this.ensureExamples();
  }

  /** Routes a prompt or chat to its expert(s). */
  async route(input: RouteInput, options: RouteOptions = {}): Promise<RoutingDecision> {
    validateOptions(options, "route");
    const started = performance.now();
    const strategy: RoutingStrategy = options.strategy ?? this.options.strategy;
    const weighting = options.weighting ?? this.options.weighting;
    const base = {
      strategy,
      weighting,
      embedder: this.embedder.id,
      warnings: [] as string[],
    };
    if (options.baseOnly) {
      return {
        ...base,
        ranked: [],
        selected: [],
        model: this.expertSet.baseModel,
        reason: "base-only",
        timings: zeroTimings(),
      };
    }
    if (options.experts && options.experts.length > 0) {
      return { ...base, ...this.forced(options.experts), timings: zeroTimings() };
    }
    const text = routingText(input, this.options.textMode, this.options.maxTextChars);
    if (options.signal?.aborted) throw new AbortError();
    if (strategy === "linear") {
      if (options.weighting !== undefined || options.temperature !== undefined) {
        throw new InvalidInputError(
          "weighting and temperature apply to the centroid and knn strategies; the linear strategy blends by its calibrated probabilities. " +
            'Leave them out, or route with strategy "centroid" or "knn".',
          options.weighting !== undefined ? "weighting" : "temperature",
        );
      }
      return this.routeLinear(text, options, started);
    }
    await this.ensureCentroids();
    const examples = strategy === "knn" ? await this.ensureExamples() : undefined;

    const t0 = performance.now();
    const [vector] = await this.embedder.embed([text], { signal: options.signal });
    if (!vector?.every(Number.isFinite)) {
      throw new ProviderResponseError(
        `Embedder ${this.embedder.id} returned ${vector ? "a vector with NaN or infinite values" : "no vector"} for the routed text.`,
      );
    }
    const t1 = performance.now();
    const distances = await this.distances(vector, examples?.collection, base.warnings);
    const t2 = performance.now();

    const ranked: RankedExpert[] = [...distances.entries()]
      .map(([name, distance]) => ({ name, distance, similarity: 1 - distance, weight: 0 }))
      .sort((a, b) => a.distance - b.distance || a.name.localeCompare(b.name));
    const timings = { embedMs: t1 - t0, queryMs: t2 - t1, totalMs: performance.now() - started };
    const threshold = options.threshold ?? this.options.threshold;
    const best = ranked[0];
    const temperature = options.temperature ?? this.options.temperature;
    const confidence =
      ranked.length > 0
        ? blendWeights(
            ranked.map((e) => e.distance),
            weighting,
            temperature,
          )[0]
        : undefined;
    if (!best || (threshold > 0 && best.similarity < threshold)) {
      return {
        ...base,
        confidence,
        ranked,
        selected: [],
        model: this.expertSet.baseModel,
        reason: "below-threshold",
        timings,
      };
    }
    const topExperts = Math.min(options.topExperts ?? this.options.topExperts, ranked.length);
    const chosen = ranked.slice(0, topExperts);
    const weights = blendWeights(
      chosen.map((e) => e.distance),
      weighting,
      temperature,
    );
    chosen.forEach((e, i) => {
      e.weight = weights[i]!;
    });
    return {
      ...base,
      confidence,
      ranked,
      selected: chosen,
      model: this.modelOf(best.name),
      reason: "routed",
      timings,
    };
  }

  /**
   * The `linear` strategy: sparse features (or the embedding) scored by the trained model; the
   * calibrated probabilities rank the experts and become the blend weights of the selected ones.
   */
  private async routeLinear(text: string, options: RouteOptions, started: number): Promise<RoutingDecision> {
    const { model } = await this.ensureLinear();
    const t0 = performance.now();
    const logits = await this.linear.logits(text, model, options.signal);
    const t1 = performance.now();
    const p = model.probabilities(logits, this.options.calibrationTemperature);
    const ranked: RankedExpert[] = model.classes
      .map((name, k) => ({ name, distance: 1 - p[k]!, similarity: p[k]!, weight: 0 }))
      .sort((a, b) => b.similarity - a.similarity || a.name.localeCompare(b.name));
    const best = ranked[0]!;
    const base = {
      strategy: "linear" as const,
      weighting: "probability" as const,
      embedder: this.embedder.id,
      warnings: [] as string[],
      confidence: best.similarity,
      ranked,
    };
    const threshold = options.threshold ?? this.options.threshold;
    const timings = () => ({ embedMs: t1 - t0, queryMs: 0, totalMs: performance.now() - started });
    if (threshold > 0 && best.similarity < threshold) {
      return {
        ...base,
        selected: [],
        model: this.expertSet.baseModel,
        reason: "below-threshold",
        timings: timings(),
      };
    }
    const chosen = ranked.slice(0, Math.min(options.topExperts ?? this.options.topExperts, ranked.length));
    const total = chosen.reduce((sum, e) => sum + e.similarity, 0);
    for (const e of chosen) e.weight = total > 0 ? e.similarity / total : 1 / chosen.length;
    return {
      ...base,
      selected: chosen,
      model: this.modelOf(best.name),
      reason: "routed",
      timings: timings(),
    };
  }

  /**
   * The `linear` model's uncalibrated scores (logits) of a prompt or chat, one per expert in
   * `classes` order: what `herd fit` fits the temperature on.
   */
  async linearLogits(
    input: RouteInput,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ classes: readonly string[]; logits: Float64Array }> {
    const { model } = await this.ensureLinear();
    const logits = await this.linear.logits(routingText(input, this.options.textMode), model, options.signal);
    return { classes: model.classes, logits };
  }

  /** The `linear` model in use (trained or loaded on first call), with its manifest. */
  linearModel(): Promise<TrainedLinearModel> {
    return this.ensureLinear();
  }

  /** Retrains the `linear` model from the examples (and stores it), whatever is stored now. */
  async retrainLinear(options: LinearTrainingOptions = {}): Promise<TrainedLinearModel> {
    return this.linear.retrain(this.expertSet.experts, stripUndefined(options));
  }

  /** The file holding this embedder's linear model, when a centroids folder is configured. */
  get linearModelFile(): string | undefined {
    return this.linear.file;
  }

  /** Rebuilds the centroids from the examples (stored and written to the index), whatever is there now. */
  async rebuildCentroids(options: BuildCentroidsOptions = {}): Promise<CentroidSet> {
    const set = await buildCentroids(this.expertSet.experts, this.embedder, {
      ...this.buildOptions,
      ...stripUndefined(options),
    });
    if (this.store) await this.store.save(set);
    await this.writeCentroids(set, this.expertSet.experts);
    this.centroidsReady = Promise.resolve();
    return set;
  }

  /**
   * Uses centroids computed elsewhere (e.g. saved by the original Python Herd) for the current
   * embedder: checks every expert has one of the embedder's dimension, stores them and writes the index.
   */
  async importCentroids(centroids: ReadonlyMap<string, Float32Array>): Promise<CentroidSet> {
    const dimension = await this.embedder.dimension();
    const manifest: CentroidSet["manifest"] = {
      version: 1,
      embedder: this.embedder.id,
      dimension,
      samples: this.buildOptions.samples ?? 100,
      seed: this.buildOptions.seed ?? 42,
      experts: {},
      createdAt: new Date().toISOString(),
    };
    for (const expert of this.expertSet.experts) {
      const vector = centroids.get(expert.name);
      if (!vector) {
        throw new UnknownExpertError(expert.name, [...centroids.keys()], {
          cause: new Error(`No imported centroid for expert "${expert.name}".`),
        });
      }
      checkCentroid(vector, `The imported centroid of "${expert.name}"`);
      if (vector.length !== dimension) {
        throw new DimensionMismatchError(
          `The imported centroid of "${expert.name}" has dimension ${vector.length} but embedder ${this.embedder.id} gives ${dimension}. ` +
            "Import centroids made with the same embedding model, or rebuild them with `herd centroids`.",
        );
      }
      manifest.experts[expert.name] = {
        examples: expert.examples.length,
        sampled: 0,
        examplesHash: examplesHash(expert.examples),
      };
    }
    const set: CentroidSet = {
      manifest,
      centroids: new Map(this.expertSet.experts.map((e) => [e.name, centroids.get(e.name)!])),
    };
    if (this.store) await this.store.save(set);
    await this.writeCentroids(set, this.expertSet.experts);
    this.centroidsReady = Promise.resolve();
    return set;
  }

  /** The folder holding this embedder's stored centroids, when a centroids folder is configured. */
  get centroidsFolder(): string | undefined {
    return this.store?.folder(this.embedder.id);
  }

  /** Replaces the expert set; centroids are brought up to date on the next route. */
  setExperts(experts: ExpertSet): void {
    this.expertSet = experts;
    this.generation++;
    this.centroidsReady = undefined;
    this.examplesReady = undefined;
    this.linear.reset();
  }

  /**
   * Adds (or replaces) an expert without restarting. The expert is validated and its centroid built
   * before the change takes effect; on any failure the expert set stays as it was.
   */
  async addExpert(expert: Expert): Promise<void> {
    const checked = validateExpert(expert);
    const previous = this.expertSet;
    const others = previous.experts.filter((e) => e.name !== checked.name);
    this.setExperts({ ...previous, experts: [...others, checked] });
    try {
      await this.prepare();
    } catch (error) {
      this.setExperts(previous);
      throw error;
    }
  }

  /** Removes an expert without restarting (its centroid leaves the index too). */
  async removeExpert(name: string): Promise<void> {
    if (!this.expertSet.experts.some((e) => e.name === name)) {
      throw new UnknownExpertError(
        name,
        this.expertSet.experts.map((e) => e.name),
      );
    }
    this.setExperts({ ...this.expertSet, experts: this.expertSet.experts.filter((e) => e.name !== name) });
    await this.index.remove(collectionNames(this.embedder.id).centroids, [name]);
    await this.prepare();
  }

  private forced(
    names: readonly string[],
  ): Pick<RoutingDecision, "ranked" | "selected" | "model" | "reason"> {
    const known = this.expertSet.experts.map((e) => e.name);
    for (const n of names) if (!known.includes(n)) throw new UnknownExpertError(n, known);
    const selected = [...new Set(names)].map((name, _, all) => ({
      name,
      distance: 0,
      similarity: 1,
      weight: 1 / all.length,
    }));
    return { ranked: selected, selected, model: this.modelOf(selected[0]!.name), reason: "forced" };
  }

  private modelOf(name: string): string {
    return this.expertSet.experts.find((e) => e.name === name)?.model ?? `herd-${name}`;
  }

  /**
   * The distance of every expert. When the index has lost experts (a Chroma server restarted empty,
   * a collection dropped by hand), they are written again once (from the stored centroids, or the
   * examples for knn) and the query repeated: a lost index must never look like "below threshold".
   */
  private async distances(
    vector: Float32Array,
    examples: string | undefined,
    warnings: string[],
  ): Promise<Map<string, number>> {
    const query = () => (examples ? this.knnDistances(vector, examples) : this.centroidDistances(vector));
    let distances = await query();
    let missing = this.missingExperts(distances);
    if (missing.length === 0) return distances;
    const what = examples ? "examples" : "centroids";
    const source = examples ? "the example prompts" : (this.centroidsFolder ?? "the example prompts");
    const note =
      `The ${this.index.kind} index had lost the ${what} of ${listNames(missing)} (a restarted or emptied index?); ` +
      `they were written again from ${source}.`;
    await this.rewriteIndex(examples !== undefined);
    process.emitWarning(note, { code: "HERD_INDEX_REWRITTEN" });
    warnings.push(note);
    distances = await query();
    missing = this.missingExperts(distances);
    if (missing.length > 0) {
      throw new ProviderResponseError(
        `The ${this.index.kind} index returned no ${what} for ${listNames(missing)} even after they were written again. ` +
          "Check that the index server keeps its data (e.g. Chroma's --path) and that nothing else drops Herd's collections.",
      );
    }
    return distances;
  }

  private missingExperts(distances: ReadonlyMap<string, number>): string[] {
    return this.expertSet.experts.map((e) => e.name).filter((name) => !distances.has(name));
  }

  /** Writes the centroids (or examples) again; concurrent routes that found the index empty share one write. */
  private rewriteIndex(examples: boolean): Promise<unknown> {
    this.rewriting ??= (async () => {
      try {
        if (examples) {
          this.examplesReady = undefined;
          await this.ensureExamples();
        } else {
          this.centroidsReady = undefined;
          await this.ensureCentroids();
        }
      } finally {
        this.rewriting = undefined;
      }
    })();
    return this.rewriting;
  }

  /** Distances from the centroids collection; entries with a non-finite distance count as missing. */
  private async centroidDistances(vector: Float32Array): Promise<Map<string, number>> {
    const names = collectionNames(this.embedder.id);
    // Every entry: replicas sharing a Chroma collection may hold experts this router does not serve.
    const hits = await this.index.query(names.centroids, vector, Number.POSITIVE_INFINITY);
    const known = new Set(this.expertSet.experts.map((e) => e.name));
    return new Map(
      hits
        .filter((h) => known.has(h.expert) && Number.isFinite(h.distance))
        .map((h) => [h.expert, h.distance]),
    );
  }

  private async knnDistances(vector: Float32Array, collection: string): Promise<Map<string, number>> {
    const hits = await this.index.query(collection, vector, Number.POSITIVE_INFINITY);
    const byExpert = new Map<string, number[]>();
    for (const hit of hits) {
      if (!Number.isFinite(hit.distance)) continue;
      const list = byExpert.get(hit.expert) ?? [];
      if (list.length < this.options.k) list.push(hit.distance);
      byExpert.set(hit.expert, list);
    }
    const out = new Map<string, number>();
    for (const e of this.expertSet.experts) {
      const list = byExpert.get(e.name);
      if (list && list.length > 0) out.set(e.name, list.reduce((a, b) => a + b, 0) / list.length);
    }
    return out;
  }

  private ensureLinear(): Promise<TrainedLinearModel> {
    const generation = this.generation;
    return this.linear.ensure(this.expertSet.experts, () => generation === this.generation);
  }

  private ensureCentroids(): Promise<void> {
    this.centroidsReady ??= this.loadOrBuildCentroids(this.expertSet.experts, this.generation).catch(
      (error: unknown) => {
        this.centroidsReady = undefined;
        throw error;
      },
    );
    return this.centroidsReady;
  }

  private async loadOrBuildCentroids(experts: readonly Expert[], generation: number): Promise<void> {
    const dimension = await this.embedder.dimension();
    let set = await this.store?.load(this.embedder.id);
    if (set && set.manifest.dimension !== dimension) {
      throw new DimensionMismatchError(
        `Stored centroids for ${this.embedder.id} have dimension ${set.manifest.dimension} but the embedder gives ${dimension}. ` +
          "Rebuild them with `herd centroids --embedder ...`.",
      );
    }
    if (!set || !isCentroidSetFresh(set, experts, this.buildOptions)) {
      set = await buildCentroids(experts, this.embedder, this.buildOptions);
      if (generation !== this.generation) return; // the experts changed meanwhile: a newer build writes
      await this.store?.save(set).catch((error: unknown) => {
        // Routing works from memory; only the cache is lost (e.g. a read-only experts folder).
        process.emitWarning(
          `Could not store centroids in ${this.store?.folder(this.embedder.id)}: ${(error as Error).message}. ` +
            "They will be rebuilt on the next start; run `herd centroids` with a writable --experts-dir to keep them.",
          { code: "HERD_CENTROIDS_NOT_STORED" },
        );
      });
    }
    if (generation !== this.generation) return;
    await this.writeCentroids(set, experts);
  }

  /**
   * Upserts the centroids of `experts`. Entries of other experts are left alone: they may belong to
   * another replica sharing the collection (removeExpert deletes its own).
   */
  private async writeCentroids(set: CentroidSet, experts: readonly Expert[]): Promise<void> {
    const collection = collectionNames(this.embedder.id).centroids;
    const entries: IndexEntry[] = experts.map((e) => ({
      id: e.name,
      expert: e.name,
      vector: set.centroids.get(e.name)!,
      metadata: { model: e.model, description: e.description, embedder: this.embedder.id },
    }));
    await this.index.upsert(collection, entries);
  }

  private ensureExamples(): Promise<{ collection: string; count: number }> {
    this.examplesReady ??= this.writeExamples(this.expertSet.experts).catch((error: unknown) => {
      this.examplesReady = undefined;
      throw error;
    });
    return this.examplesReady;
  }

  /**
   * Embeds every example prompt into the examples collection named by their hash. Upserts only, so
   * replicas reading the same collection never see it emptied.
   */
  private async writeExamples(experts: readonly Expert[]): Promise<{ collection: string; count: number }> {
    const collection = collectionNames(this.embedder.id, experts).examples;
    const entries: IndexEntry[] = [];
    const total = experts.reduce((n, e) => n + e.examples.length, 0);
    for (const e of experts) {
      const vectors = await embedAll(this.embedder, e.examples, {
        ...this.buildOptions,
        offset: entries.length,
        total,
      });
      vectors.forEach((vector, i) => {
        entries.push({ id: `${e.name}#${i}`, expert: e.name, vector });
      });
    }
    await this.index.upsert(collection, entries);
    return { collection, count: entries.length };
  }
}

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 8).map((n) => `"${n}"`);
  return names.length > 8 ? `${shown.join(", ")} and ${names.length - 8} more` : shown.join(", ");
}

function zeroTimings(): RoutingDecision["timings"] {
  return { embedMs: 0, queryMs: 0, totalMs: 0 };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
