import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type BuildCentroidsOptions, embedAll, embedderFolderName } from "./centroid-store.js";
import type { Embedder } from "./embedder.js";
import { FileFormatError } from "./errors.js";
import type { Expert } from "./expert.js";
import { fitTemperature } from "./routing/calibration.js";
import { LinearModel } from "./routing/linear-model.js";
import {
  type ClassWeight,
  crossValidatedLogits,
  type FeatureMatrix,
  featureMatrix,
  trainSoftmaxRegression,
} from "./routing/softmax-regression.js";

/** How the linear router is trained. */
export interface LinearTrainingOptions
  extends Pick<BuildCentroidsOptions, "batchSize" | "onProgress" | "signal"> {
  /** Inverse L2 strength (scikit-learn's C); accuracy is flat from 3 to 30. @default 10 */
  C?: number;
  /** Cross-validation folds whose out-of-fold scores fit the temperature. @default 5 */
  folds?: number;
  /**
   * `"balanced"` weighs each example by `n / (experts * n_expert)` so an expert with a few examples
   * is learned as well as one with hundreds; `"none"` weighs every example alike. @default "balanced"
   */
  classWeight?: ClassWeight;
}

/** What a stored linear model was trained from, and how. */
export interface LinearManifest {
  version: 1;
  embedder: string;
  /** `sparse:<features id>` or `dense`. */
  features: string;
  /** Hash of everything training depends on: embedder, features, C, folds, class weights, experts and examples. */
  hash: string;
  classes: string[];
  C: number;
  folds: number;
  classWeight: ClassWeight;
  /** Training rows (example prompts). */
  examples: number;
  /** Weight rows: feature keys, or the embedding's dimension. */
  rows: number;
  /** Fitted by cross-validation on the examples; `router.calibrationTemperature` overrides it. */
  temperature: number;
  iterations: number;
  converged: boolean;
  trainMs: number;
  createdAt: string;
}

/** A trained linear router with its manifest. */
export interface TrainedLinearModel {
  manifest: LinearManifest;
  model: LinearModel;
}

const DEFAULT_C = 10;
/** Bumped whenever training changes (optimizer, tolerances), so stored models are retrained. */
const TRAINER_VERSION = 3;
const DEFAULT_FOLDS = 5;
const DEFAULT_CLASS_WEIGHT: ClassWeight = "balanced";
/**
 * L-BFGS steps of each cross-validation fit, warm-started from the full model. They only give the
 * out-of-fold scores the temperature is fitted on: 25 steps give the temperature of converged fits
 * to 2 decimals (1,358 examples: 0.396 against 0.398) in half the time (converged: 35-50 steps).
 */
const FOLD_ITERATIONS = 25;

/** The hash a stored model must carry to be reused for these experts, this embedder and settings. */
export function linearTrainingHash(
  experts: readonly Pick<Expert, "name" | "examples">[],
  embedder: Pick<Embedder, "id" | "sparseFeaturesId" | "sparseFeatures">,
  options: Pick<LinearTrainingOptions, "C" | "folds" | "classWeight"> = {},
): string {
  const hash = createHash("sha256");
  const features = embedder.sparseFeatures ? `sparse:${embedder.sparseFeaturesId ?? ""}` : "dense";
  hash.update(
    JSON.stringify([
      TRAINER_VERSION,
      embedder.id,
      features,
      options.C ?? DEFAULT_C,
      options.folds ?? DEFAULT_FOLDS,
      options.classWeight ?? DEFAULT_CLASS_WEIGHT,
    ]),
  );
  for (const e of experts) {
    hash.update(`\u0001${e.name}`);
    for (const x of e.examples) hash.update("\0").update(x);
  }
  return hash.digest("hex").slice(0, 16);
}

/** The training matrix: sparse features (keys become columns, sorted) or dense embeddings. */
async function trainingMatrix(
  experts: readonly Expert[],
  embedder: Embedder,
  options: LinearTrainingOptions,
): Promise<{ matrix: FeatureMatrix; labels: Int32Array; keys?: Int32Array }> {
  const labels = Int32Array.from(experts.flatMap((e, k) => e.examples.map(() => k)));
  const texts = experts.flatMap((e) => e.examples);
  if (embedder.sparseFeatures) {
    const rows = texts.map((t) => embedder.sparseFeatures!(t));
    options.onProgress?.(texts.length, texts.length);
    const keys = Int32Array.from(new Set(rows.flatMap((r) => Array.from(r.keys)))).sort();
    const columnOf = new Map<number, number>();
    for (let j = 0; j < keys.length; j++) columnOf.set(keys[j]!, j);
    const matrix = featureMatrix(
      rows.map((r) => ({ indices: Array.from(r.keys, (key) => columnOf.get(key)!), values: r.values })),
      keys.length,
    );
    return { matrix, labels, keys };
  }
  const vectors = await embedAll(embedder, texts, options);
  const dimension = vectors[0]?.length ?? 0;
  const all = Int32Array.from({ length: dimension }, (_, j) => j);
  const matrix = featureMatrix(
    vectors.map((v) => ({ indices: all, values: v })),
    dimension,
  );
  return { matrix, labels };
}

/**
 * Trains the `linear` routing strategy: a multinomial logistic regression (L2, L-BFGS) from every
 * expert's example prompts, over the embedder's sparse features when it has them (the hashing
 * embedder) or its dense embeddings (ollama, llamacpp). The softmax temperature is fitted on
 * out-of-fold scores of a stratified k-fold cross-validation, so the probabilities are calibrated
 * without any other data. Deterministic: the same examples give the same model.
 */
export async function trainLinearRouter(
  experts: readonly Expert[],
  embedder: Embedder,
  options: LinearTrainingOptions = {},
): Promise<TrainedLinearModel> {
  const started = performance.now();
  const C = options.C ?? DEFAULT_C;
  const folds = options.folds ?? DEFAULT_FOLDS;
  const classWeight = options.classWeight ?? DEFAULT_CLASS_WEIGHT;
  const { matrix, labels, keys } = await trainingMatrix(experts, embedder, options);
  const K = experts.length;
  const fit = trainSoftmaxRegression(matrix, labels, K, { C, classWeight });
  const smallest = Math.min(...experts.map((e) => e.examples.length));
  const temperature =
    folds >= 2 && smallest >= folds
      ? fitTemperature(
          crossValidatedLogits(matrix, labels, K, folds, {
            C,
            classWeight,
            initial: fit,
            maxIterations: FOLD_ITERATIONS,
          }),
          labels,
        )
      : 1;
  const model = new LinearModel({
    classes: experts.map((e) => e.name),
    keys,
    rows: matrix.columns,
    weights: Float32Array.from(fit.weights),
    bias: Float32Array.from(fit.bias),
    temperature,
  });
  const manifest: LinearManifest = {
    version: 1,
    embedder: embedder.id,
    features: keys ? `sparse:${embedder.sparseFeaturesId ?? ""}` : "dense",
    hash: linearTrainingHash(experts, embedder, { C, folds, classWeight }),
    classes: experts.map((e) => e.name),
    C,
    folds,
    classWeight,
    examples: matrix.rows,
    rows: matrix.columns,
    temperature,
    iterations: fit.iterations,
    converged: fit.converged,
    trainMs: Math.round(performance.now() - started),
    createdAt: new Date().toISOString(),
  };
  return { manifest, model };
}

interface StoredFile {
  manifest: LinearManifest;
  /** Little-endian int32 feature keys, base64 (sparse models). */
  keys?: string;
  /** Little-endian float32 weights, base64. */
  weights: string;
  bias: number[];
}

const toBase64 = (a: Int32Array | Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");

function fromBase64<T extends Int32Array | Float32Array>(text: string, make: (b: ArrayBuffer) => T): T {
  const bytes = Buffer.from(text, "base64");
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return make(copy);
}

/**
 * Linear routers on disk, one file per embedder next to its centroids:
 * `<root>/<embedder-id>.linear.json`, and the one it replaced in `<embedder-id>.linear.previous.json`.
 * Written to a temporary file and renamed.
 */
export class LinearModelStore {
  constructor(
    /** The centroids root, e.g. `experts/centroids`. */
    readonly root: string,
  ) {}

  /** The file holding one embedder's linear model. */
  file(embedderId: string): string {
    return join(this.root, `${embedderFolderName(embedderId)}.linear.json`);
  }

  /** The file keeping the model stored before the current one (undoing a change retrains nothing). */
  previousFile(embedderId: string): string {
    return join(this.root, `${embedderFolderName(embedderId)}.linear.previous.json`);
  }

  /**
   * The stored model of an embedder, or undefined when there is none. With `hash`, the previous
   * model is returned instead of the current one when only it was trained for that hash (e.g. an
   * expert added and removed again).
   */
  async load(embedderId: string, hash?: string): Promise<TrainedLinearModel | undefined> {
    const current = await this.read(this.file(embedderId), embedderId);
    if (hash === undefined || current?.manifest.hash === hash) return current;
    const previous = await this.read(this.previousFile(embedderId), embedderId).catch(() => undefined);
    return previous?.manifest.hash === hash ? previous : current;
  }

  private async read(file: string, embedderId: string): Promise<TrainedLinearModel | undefined> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return undefined;
    }
    try {
      const stored = JSON.parse(text) as StoredFile;
      const m = stored.manifest;
      if (m.version !== 1 || m.embedder !== embedderId) throw new Error("not this embedder's model");
      const model = new LinearModel({
        classes: m.classes,
        keys: stored.keys === undefined ? undefined : fromBase64(stored.keys, (b) => new Int32Array(b)),
        rows: m.rows,
        weights: fromBase64(stored.weights, (b) => new Float32Array(b)),
        bias: Float32Array.from(stored.bias),
        temperature: m.temperature,
      });
      return { manifest: m, model };
    } catch (error) {
      throw new FileFormatError(
        `${file} is not a linear router of embedder ${embedderId} (${(error as Error).message}). Delete it and run \`herd centroids\`.`,
        file,
      );
    }
  }

  /** Saves a model atomically (replacing the embedder's earlier one). */
  async save(trained: TrainedLinearModel): Promise<string> {
    const file = this.file(trained.manifest.embedder);
    const data = trained.model.data;
    const stored: StoredFile = {
      manifest: trained.manifest,
      ...(data.keys ? { keys: toBase64(data.keys) } : {}),
      weights: toBase64(data.weights),
      bias: Array.from(data.bias),
    };
    await mkdir(this.root, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
    const previousTmp = `${tmp}.previous`;
    try {
      // The current model becomes the previous one (copied, so a reader always finds a current file).
      const kept = await copyFile(file, previousTmp).then(
        () => true,
        () => false,
      );
      if (kept) await rename(previousTmp, this.previousFile(trained.manifest.embedder));
      await writeFile(tmp, JSON.stringify(stored));
      await rename(tmp, file);
    } catch (error) {
      await Promise.all([rm(tmp, { force: true }), rm(previousTmp, { force: true })]);
      throw error;
    }
    return file;
  }
}
