import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Embedder } from "./embedder.js";
import { DimensionMismatchError, FileFormatError } from "./errors.js";
import type { Expert } from "./expert.js";
import { formatNpy, parseNpy } from "./npy.js";
import { removeStaleTemporariesFor, temporarySibling, trackTemporary } from "./temp-files.js";
import { centroid, l2Normalize, sampleWithoutReplacement } from "./vector-math.js";

/** What a stored set of centroids was built from. */
export interface CentroidManifest {
  version: 1;
  /** The embedder id the centroids belong to. */
  embedder: string;
  dimension: number;
  /** Example prompts sampled per expert. */
  samples: number;
  seed: number;
  /** Per expert: how many examples it had, how many were sampled, and a hash of its examples. */
  experts: Record<string, { examples: number; sampled: number; examplesHash: string }>;
  createdAt: string;
}

/** Centroids plus the manifest describing them. */
export interface CentroidSet {
  manifest: CentroidManifest;
  centroids: Map<string, Float32Array>;
}

/** Options for building centroids. */
export interface BuildCentroidsOptions {
  /** Example prompts sampled per expert (without replacement). @default 100 */
  samples?: number;
  /** Seed of the sampling. @default 42 */
  seed?: number;
  /** Texts per embedding call. @default 32 */
  batchSize?: number;
  /** Called after each batch with the number of prompts embedded so far and the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** A short, stable hash of an expert's example prompts (detects stale centroids). */
export function examplesHash(examples: readonly string[]): string {
  const hash = createHash("sha256");
  for (const e of examples) hash.update(e).update("\0");
  return hash.digest("hex").slice(0, 16);
}

/** Embeds texts in batches, reporting progress. */
export async function embedAll(
  embedder: Embedder,
  texts: readonly string[],
  options: Pick<BuildCentroidsOptions, "batchSize" | "onProgress" | "signal"> & {
    offset?: number;
    total?: number;
  } = {},
): Promise<Float32Array[]> {
  const batchSize = options.batchSize ?? 32;
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += batchSize) {
    out.push(...(await embedder.embed(texts.slice(i, i + batchSize), { signal: options.signal })));
    options.onProgress?.((options.offset ?? 0) + out.length, options.total ?? texts.length);
  }
  return out;
}

/**
 * Builds one centroid per expert: samples N example prompts (seeded, without replacement),
 * embeds them, averages and L2-normalizes.
 */
export async function buildCentroids(
  experts: readonly Expert[],
  embedder: Embedder,
  options: BuildCentroidsOptions = {},
): Promise<CentroidSet> {
  const samples = options.samples ?? 100;
  const seed = options.seed ?? 42;
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(`samples must be a positive integer, got ${samples}.`);
  }
  const picked = experts.map((e) => sampleWithoutReplacement(e.examples, samples, seed));
  const total = picked.reduce((n, p) => n + p.length, 0);
  const dimension = await embedder.dimension({ signal: options.signal });
  const centroids = new Map<string, Float32Array>();
  const manifest: CentroidManifest = {
    version: 1,
    embedder: embedder.id,
    dimension,
    samples,
    seed,
    experts: {},
    createdAt: new Date().toISOString(),
  };
  let done = 0;
  for (const [i, expert] of experts.entries()) {
    const prompts = picked[i]!;
    const vectors = await embedAll(embedder, prompts, { ...options, offset: done, total });
    done += prompts.length;
    const c = centroid(vectors);
    if (c.length !== dimension) {
      throw new DimensionMismatchError(
        `Embedder ${embedder.id} reported dimension ${dimension} but returned vectors of ${c.length}.`,
      );
    }
    centroids.set(expert.name, c);
    manifest.experts[expert.name] = {
      examples: expert.examples.length,
      sampled: prompts.length,
      examplesHash: examplesHash(expert.examples),
    };
  }
  return { manifest, centroids };
}

/**
 * True when the stored set matches these experts exactly (same names, same examples) and, where
 * `samples` or `seed` are given, was sampled that way. Without them any sampling is accepted, so
 * centroids built with `herd centroids --samples 500` are kept by later runs.
 */
export function isCentroidSetFresh(
  set: CentroidSet,
  experts: readonly Expert[],
  options: { samples?: number; seed?: number } = {},
): boolean {
  const m = set.manifest;
  if (options.samples !== undefined && m.samples !== options.samples) return false;
  if (options.seed !== undefined && m.seed !== options.seed) return false;
  if (Object.keys(m.experts).length !== experts.length) return false;
  return experts.every(
    (e) => m.experts[e.name]?.examplesHash === examplesHash(e.examples) && set.centroids.has(e.name),
  );
}

/** Folder-safe form of an embedder id. */
export function embedderFolderName(embedderId: string): string {
  return embedderId.replace(/[^A-Za-z0-9._-]+/g, "_");
}

/**
 * Centroids on disk, one folder per embedder id: `<root>/<embedder-id>/<expert>.npy` (float32)
 * plus `manifest.json`. Writes go to a temporary folder that is renamed into place, so a crash
 * never leaves a half-written set.
 */
export class CentroidStore {
  constructor(
    /** The centroids root, e.g. `experts/centroids`. */
    readonly root: string,
  ) {}

  /** The folder holding one embedder's centroids. */
  folder(embedderId: string): string {
    return join(this.root, embedderFolderName(embedderId));
  }

  /** Loads the centroids stored for an embedder, or undefined when there are none. */
  async load(embedderId: string): Promise<CentroidSet | undefined> {
    const folder = this.folder(embedderId);
    let text: string;
    try {
      text = await readFile(join(folder, "manifest.json"), "utf8");
    } catch {
      return undefined;
    }
    let manifest: CentroidManifest;
    try {
      manifest = JSON.parse(text) as CentroidManifest;
    } catch {
      throw new FileFormatError(
        `${join(folder, "manifest.json")} is not valid JSON. Delete the folder and run \`herd centroids\`.`,
      );
    }
    if (manifest.embedder !== embedderId) {
      throw new FileFormatError(
        `${folder} holds centroids for embedder "${manifest.embedder}", not "${embedderId}". Run \`herd centroids\`.`,
      );
    }
    const centroids = new Map<string, Float32Array>();
    for (const name of Object.keys(manifest.experts)) {
      const file = join(folder, `${name}.npy`);
      const vector = await readCentroidFile(file);
      if (vector.length !== manifest.dimension) {
        throw new DimensionMismatchError(
          `${file} has dimension ${vector.length} but the manifest says ${manifest.dimension}. Run \`herd centroids\`.`,
        );
      }
      centroids.set(name, vector);
    }
    return { manifest, centroids };
  }

  /** Saves a centroid set atomically (replacing any earlier set for the same embedder). */
  async save(set: CentroidSet): Promise<string> {
    const folder = this.folder(set.manifest.embedder);
    await mkdir(dirname(folder), { recursive: true });
    await removeStaleTemporariesFor(folder);
    const tmp = temporarySibling(folder);
    const old = temporarySibling(folder);
    const untrack = [trackTemporary(tmp)];
    try {
      await mkdir(tmp, { recursive: true });
      for (const [name, vector] of set.centroids) {
        await writeFile(join(tmp, `${name}.npy`), formatNpy(vector));
      }
      await writeFile(join(tmp, "manifest.json"), `${JSON.stringify(set.manifest, null, 2)}\n`);
      let hadOld = false;
      try {
        await rename(folder, old);
        hadOld = true;
      } catch {
        // no earlier set
      }
      await rename(tmp, folder);
      // Only now is the old set garbage (an interruption before would have lost both copies).
      if (hadOld) {
        untrack.push(trackTemporary(old));
        await rm(old, { recursive: true, force: true });
      }
      return folder;
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      throw error;
    } finally {
      for (const done of untrack) done();
    }
  }
}

/**
 * Reads one centroid from a .npy file: float32 or float64, shape (d,) or (1, d), L2-normalized on read.
 * This is also the format of the original Python Herd's centroids.
 */
export async function readCentroidFile(file: string): Promise<Float32Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    throw new FileFormatError(
      `Cannot read centroid file ${file}. Run \`herd centroids\` to rebuild centroids.`,
      file,
    );
  }
  const { shape, data } = parseNpy(bytes, file);
  const isVector = shape.length === 1 || (shape.length === 2 && shape[0] === 1);
  if (!isVector) {
    throw new FileFormatError(
      `${file} has shape (${shape.join(", ")}); a centroid must be one vector (d,) or (1, d).`,
      file,
    );
  }
  return l2Normalize(checkCentroid(data, `${file}`, file));
}

/**
 * Throws a FileFormatError when a centroid holds a NaN or infinite component or is all zeros: such a
 * vector would win or lose every route (and give NaN weights). `where` names it in the message.
 */
export function checkCentroid<V extends Float32Array | Float64Array>(
  vector: V,
  where: string,
  file?: string,
): V {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) {
    const x = vector[i]!;
    if (!Number.isFinite(x)) {
      throw new FileFormatError(
        `${where} holds a non-finite value (${x}) at index ${i}, so it is corrupt. Rebuild the centroids with \`herd centroids\`.`,
        file,
      );
    }
    sum += x * x;
  }
  if (!(sum > 0) || !Number.isFinite(sum)) {
    throw new FileFormatError(
      `${where} is ${sum > 0 ? "too large to normalize" : "all zeros (no direction)"}, so it is corrupt. Rebuild the centroids with \`herd centroids\`.`,
      file,
    );
  }
  return vector;
}

/**
 * Reads a folder of `<expert>.npy` centroids as saved by the original Python Herd (float64, one
 * vector per expert). Only the experts named are read; a missing one is an error naming the file.
 */
export async function readCentroidFolder(
  dir: string,
  expertNames?: readonly string[],
): Promise<Map<string, Float32Array>> {
  let names = expertNames;
  if (!names) {
    const files = await readdir(dir).catch(() => {
      throw new FileFormatError(`Cannot read centroid folder ${dir}.`, dir);
    });
    names = files.filter((f) => f.endsWith(".npy")).map((f) => basename(f, ".npy"));
  }
  const out = new Map<string, Float32Array>();
  let dimension: number | undefined;
  for (const name of names) {
    const file = join(dir, `${name}.npy`);
    const vector = await readCentroidFile(file);
    if (dimension !== undefined && vector.length !== dimension) {
      throw new DimensionMismatchError(
        `${file} has dimension ${vector.length}, other centroids in ${dir} ${dimension}.`,
      );
    }
    dimension = vector.length;
    out.set(name, vector);
  }
  return out;
}
