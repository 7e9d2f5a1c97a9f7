import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { stripBom } from "./bom.js";
import { ConfigError } from "./errors.js";
import { MAX_TIMEOUT_MS } from "./timeouts.js";

const positiveInt = z.number().int().min(1);

/** `{ name, ...settings }`: which implementation to use, and its own settings (passed through). */
function component(defaultName: string) {
  return z.looseObject({ name: z.string().min(1).default(defaultName) }).prefault({});
}

const routerSchema = z
  .object({
    strategy: z.enum(["linear", "centroid", "knn"]).optional(),
    weighting: z.enum(["inverse-distance", "softmax"]).optional(),
    calibrationTemperature: z.number().positive().optional(),
    temperature: z.number().positive().optional(),
    topExperts: positiveInt.optional(),
    threshold: z.number().min(-1).max(1).optional(),
    k: positiveInt.optional(),
    textMode: z.enum(["last-user", "all-user", "all"]).optional(),
    /** Characters of the routed text that are embedded (first and last half). @default 8000 */
    maxTextChars: z.number().int().min(2).optional(),
  })
  .strict()
  .prefault({});

const timeoutMs = z.number().int().min(1).max(MAX_TIMEOUT_MS).optional();

/** Backend call limits in ms; unset fields keep DEFAULT_TIMEOUTS (src/core/timeouts.ts, the one place). */
const timeoutsSchema = z
  .object({ connectMs: timeoutMs, firstByteMs: timeoutMs, idleMs: timeoutMs, totalMs: timeoutMs })
  .strict()
  .prefault({});

const pluginEntry = z.union([
  z
    .string()
    .min(1)
    .transform((name) => ({ name, options: {} as Record<string, unknown> })),
  z.object({ name: z.string().min(1), options: z.record(z.string(), z.unknown()).default({}) }).strict(),
]);

/** The zod schema of a Herd config (herd.json, or the object given to `createHerd`). */
export const configSchema = z
  .object({
    /** The folder holding experts.json and the example prompts. Relative to the config file. */
    expertsDir: z.string().min(1).default("experts"),
    /** An inline expert set (same shape as experts.json) instead of `expertsDir`. */
    experts: z.unknown().optional(),
    /** Overrides the base model named by the expert set. */
    baseModel: z.string().min(1).optional(),
    /** Where centroids are cached per embedder. Relative to the config file. @default `<expertsDir>/centroids` */
    centroidsDir: z.string().min(1).optional(),
    embedder: component("hashing"),
    index: component("memory"),
    provider: component("ollama"),
    /** The blend resolver; `auto` picks by the provider's capabilities. */
    blend: component("auto"),
    router: routerSchema,
    /** How centroids are built when missing or stale. Unset: stored centroids are kept whatever their sampling. */
    centroids: z
      .object({
        /** Example prompts sampled per expert (100 when building without a setting). */
        samples: positiveInt.optional(),
        /** The sampling seed (42 when building without a setting). */
        seed: z.number().int().optional(),
      })
      .strict()
      .prefault({}),
    plugins: z.array(pluginEntry).default([{ name: "expert-override", options: {} }]),
    /** Settings of `herd serve` that guard who may call it. */
    server: z
      .object({
        /** Host names served besides localhost, 127.0.0.1 and [::1] (Host header; "*" for any). */
        allowedHosts: z.array(z.string().min(1)).optional(),
        /** Web page origins allowed to call the API from a browser (CORS; "*" for any). */
        cors: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .prefault({}),
    concurrency: z
      .object({
        /** Generations running at once on the chat backend; more wait in a queue. */
        generation: positiveInt.default(4),
        /** Requests allowed to wait; beyond it requests fail fast with a retryable 503. */
        queue: z.number().int().min(0).default(256),
      })
      .strict()
      .prefault({}),
    /**
     * Limits of every backend call (chat, embeddings, Chroma, Ollama build and health), in ms:
     * `{ connectMs, firstByteMs, idleMs, totalMs }`. A call that runs out is aborted, frees its
     * generation slot and fails with a retryable 504 (`herd serve --timeout` sets first byte and idle).
     */
    timeouts: timeoutsSchema,
  })
  .strict();

/** The config as written (defaults optional). */
export type HerdConfigInput = z.input<typeof configSchema>;
/** The validated config with defaults applied. */
export type HerdConfig = z.output<typeof configSchema>;

function fieldOf(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
    .join("")
    .replace(/^\./, "");
}

/**
 * Validates a config object. Relative paths (`expertsDir`, `centroidsDir`, `modelPath`) are resolved against
 * `baseDir`. Throws `ConfigError` whose `field` is the dotted path of the first bad field.
 */
export function parseConfig(input: unknown, baseDir: string = process.cwd(), source = "config"): HerdConfig {
  const parsed = configSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
    const path = keys.length > 0 ? [...issue.path, keys[0]!] : issue.path;
    const field = fieldOf(path) || "(root)";
    const why = keys.length > 0 ? `unknown field; remove it or check its spelling` : issue.message;
    throw new ConfigError(`Invalid ${source}: ${field}: ${why}.`, field);
  }
  const config = parsed.data;
  config.expertsDir = resolve(baseDir, config.expertsDir);
  if (config.centroidsDir !== undefined) config.centroidsDir = resolve(baseDir, config.centroidsDir);
  // Model files named in the config (llama.cpp embedder and provider) are relative to it too.
  for (const part of [config.embedder, config.provider] as Record<string, unknown>[]) {
    if (typeof part.modelPath === "string") part.modelPath = resolve(baseDir, part.modelPath);
  }
  return config;
}

/** Reads and validates a JSON config file; relative paths in it are resolved against its folder. */
export async function loadConfigFile(path: string): Promise<HerdConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ConfigError(
      `Cannot read the config file ${file}: ${(error as Error).message}. Check the path.`,
      undefined,
      {
        cause: error,
      },
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(stripBom(text));
  } catch (error) {
    throw new ConfigError(`${file} is not valid JSON: ${(error as Error).message}.`, undefined, {
      cause: error,
    });
  }
  return parseConfig(data, dirname(file), file);
}
