import type { Embedder } from "./embedder.js";
import type { Expert } from "./expert.js";
import {
  LinearModelStore,
  type LinearTrainingOptions,
  linearTrainingHash,
  type TrainedLinearModel,
  trainLinearRouter,
} from "./linear-store.js";
import type { LinearModel } from "./routing/linear-model.js";

/**
 * The embedder as the linear model of `experts` sees it: its sparse features refitted on the
 * experts' examples when they differ from the embedder's own corpus (experts added or changed at
 * run time: a new expert's words must count), else the embedder itself.
 */
function featuresFor(embedder: Embedder, experts: readonly Expert[]): Embedder {
  const source = embedder.sparseFeatures
    ? embedder.sparseFeaturesFor?.(experts.flatMap((e) => e.examples))
    : undefined;
  if (!source) return embedder;
  return {
    id: embedder.id,
    dimension: (options) => embedder.dimension(options),
    embed: (texts, options) => embedder.embed(texts, options),
    sparseFeaturesId: source.id,
    sparseFeatures: (text) => source.features(text),
  };
}

/**
 * The `linear` strategy's model for one router: loaded from the store when its hash matches the
 * experts' examples, else trained (and stored) once, however many routes ask for it at the same time.
 */
export class LinearRouting {
  private readonly store: LinearModelStore | undefined;
  private ready: Promise<TrainedLinearModel> | undefined;
  /** The features each model was trained on (when not the embedder's own). */
  private readonly featuresOf = new WeakMap<LinearModel, Embedder>();

  constructor(
    private readonly embedder: Embedder,
    /** The centroids root the model is stored in, if any. */
    centroidsDir: string | undefined,
    private readonly options: Omit<LinearTrainingOptions, "signal"> = {},
  ) {
    this.store = centroidsDir ? new LinearModelStore(centroidsDir) : undefined;
  }

  /** The file holding this embedder's model, when a store is configured. */
  get file(): string | undefined {
    return this.store?.file(this.embedder.id);
  }

  /** Forgets the model in memory (the experts changed); the next `ensure` loads or trains again. */
  reset(): void {
    this.ready = undefined;
  }

  /**
   * The model for `experts`: in memory, stored and fresh, or trained now. `isCurrent` says whether
   * the experts are still the router's when training ends; a model for an outdated set is not stored.
   */
  ensure(experts: readonly Expert[], isCurrent: () => boolean): Promise<TrainedLinearModel> {
    this.ready ??= this.loadOrTrain(experts, isCurrent).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  /** Trains from `experts` and stores the model, whatever is stored now. */
  async retrain(
    experts: readonly Expert[],
    options: LinearTrainingOptions = {},
  ): Promise<TrainedLinearModel> {
    const features = featuresFor(this.embedder, experts);
    const trained = await trainLinearRouter(experts, features, { ...this.options, ...options });
    this.featuresOf.set(trained.model, features);
    if (this.store) await this.store.save(trained);
    this.ready = Promise.resolve(trained);
    return trained;
  }

  /** A prompt's raw scores: its sparse features when the model and the embedder have them, else its embedding. */
  async logits(text: string, model: LinearModel, signal?: AbortSignal): Promise<Float64Array> {
    const features = this.featuresOf.get(model) ?? this.embedder;
    if (model.sparse && features.sparseFeatures) return model.logitsSparse(features.sparseFeatures(text));
    const [vector] = await this.embedder.embed([text], { signal });
    return model.logitsDense(vector!);
  }

  private async loadOrTrain(
    experts: readonly Expert[],
    isCurrent: () => boolean,
  ): Promise<TrainedLinearModel> {
    const features = featuresFor(this.embedder, experts);
    const hash = linearTrainingHash(experts, features, this.options);
    const stored = await this.store?.load(this.embedder.id, hash);
    if (stored && stored.manifest.hash === hash) {
      this.featuresOf.set(stored.model, features);
      return stored;
    }
    const trained = await trainLinearRouter(experts, features, this.options);
    this.featuresOf.set(trained.model, features);
    if (isCurrent()) {
      await this.store?.save(trained).catch((error: unknown) => {
        process.emitWarning(
          `Could not store the linear router in ${this.file}: ${(error as Error).message}. ` +
            "It will be retrained on the next start; run `herd centroids` with a writable --experts-dir to keep it.",
          { code: "HERD_LINEAR_NOT_STORED" },
        );
      });
    }
    return trained;
  }
}
