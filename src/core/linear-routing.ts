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
 * The `linear` strategy's model for one router: loaded from the store when its hash matches the
 * experts' examples, else trained (and stored) once, however many routes ask for it at the same time.
 */
export class LinearRouting {
  private readonly store: LinearModelStore | undefined;
  private ready: Promise<TrainedLinearModel> | undefined;

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
    const trained = await trainLinearRouter(experts, this.embedder, { ...this.options, ...options });
    if (this.store) await this.store.save(trained);
    this.ready = Promise.resolve(trained);
    return trained;
  }

  /** A prompt's raw scores: its sparse features when the model and the embedder have them, else its embedding. */
  async logits(text: string, model: LinearModel, signal?: AbortSignal): Promise<Float64Array> {
    if (model.sparse && this.embedder.sparseFeatures)
      return model.logitsSparse(this.embedder.sparseFeatures(text));
    const [vector] = await this.embedder.embed([text], { signal });
    return model.logitsDense(vector!);
  }

  private async loadOrTrain(
    experts: readonly Expert[],
    isCurrent: () => boolean,
  ): Promise<TrainedLinearModel> {
    const hash = linearTrainingHash(experts, this.embedder, this.options);
    const stored = await this.store?.load(this.embedder.id);
    if (stored && stored.manifest.hash === hash) return stored;
    const trained = await trainLinearRouter(experts, this.embedder, this.options);
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
