import { readFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import {
  blendModelName,
  blendVariants,
  DEFAULT_BLEND_GRID,
  MODEL_PREFIX,
} from "../../core/blend-resolver.js";
import { ExpertConfigError, UnknownExpertError } from "../../core/errors.js";
import type { ExpertSet } from "../../core/expert.js";
import { type ModelfileChatSettings, type ModelfileParameter, renderModelfile } from "./modelfile.js";

/** Settings of {@link planOllamaBuild}. */
export interface BuildPlanOptions {
  /** The folder holding experts.json; adapter paths are relative to it. */
  expertsDir: string;
  /** Where Modelfiles are written. @default "Modelfiles" */
  outDir?: string;
  /** Where merged blend adapters (and the build manifest) go. @default "<expertsDir>/adapters/merged" */
  mergedDir?: string;
  /** The blend weight grid step. @default 0.25 */
  grid?: number;
  /**
   * The expert pairs to build blends for, e.g. `[["code", "reasoning"]]`. @default every pair
   * (n experts give n(n-1)/2 pairs, each with one model per interior grid point)
   */
  pairs?: readonly (readonly [string, string])[];
  /** TEMPLATE/SYSTEM/PARAMETERs for every Modelfile. @default experts.json `ollama`, else inherited from the base */
  chat?: ModelfileChatSettings;
}

/** The base a model is built FROM: an Ollama model name, or a GGUF file uploaded as a blob. */
export type PlannedBase = { model: string } | { file: string };

/** One model `herd build` creates, and the Modelfile that describes it. */
export interface PlannedModel {
  /** The Ollama model name (see the naming scheme in core/blend-resolver.ts). */
  model: string;
  kind: "base" | "expert" | "blend";
  /** Absolute path of the Modelfile. */
  modelfile: string;
  /** The Modelfile text. */
  text: string;
  base: PlannedBase;
  /** Absolute path of the adapter (GGUF file or PEFT folder); merged ones do not exist before the build. */
  adapter?: string;
  /** For blends: the expert adapters and weights merged into `adapter`. */
  merge?: { expert: string; path: string; weight: number }[];
  chat: ModelfileChatSettings;
}

function pairKey(a: string, b: string): string {
  return [a, b].sort().join("+");
}

/** The model name `herd build` gives the base model with Herd's chat settings. */
export const BASE_MODEL_NAME = `${MODEL_PREFIX}base`;

function modelfilePath(dir: string, relativeTo: string): string {
  const rel = relative(relativeTo, dir).split(sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/**
 * Reads the optional `ollama` section of experts.json: `{ "template", "system", "parameters" }`
 * for bases that need a chat template (e.g. a GGUF file); absent means "inherit from the base".
 */
export async function loadChatSettings(expertsDir: string): Promise<ModelfileChatSettings> {
  const file = join(expertsDir, "experts.json");
  const data = JSON.parse(await readFile(file, "utf8")) as { ollama?: unknown };
  const section = data.ollama as Record<string, unknown> | undefined;
  if (section === undefined) return {};
  const bad = (field: string, kind: string) =>
    new ExpertConfigError(`${file}: ollama.${field} must be ${kind}. Fix the experts file and try again.`);
  if (typeof section !== "object" || section === null) throw bad("(root)", "an object");
  const settings: ModelfileChatSettings = {};
  if (section.template !== undefined) {
    if (typeof section.template !== "string") throw bad("template", "a string");
    settings.template = section.template;
  }
  if (section.system !== undefined) {
    if (typeof section.system !== "string") throw bad("system", "a string");
    settings.system = section.system;
  }
  if (section.parameters !== undefined) {
    if (typeof section.parameters !== "object" || section.parameters === null)
      throw bad("parameters", "an object");
    settings.parameters = section.parameters as Record<string, ModelfileParameter>;
  }
  return settings;
}

/**
 * Plans every model of an expert set for Ollama: the base (`herd-base`), one model per expert
 * (`herd-<expert>`: base + the expert's adapter) and every two-expert blend on the grid
 * (`herd-blend-<a>-<b>-<pa>-<pb>`: base + one merged adapter, since Ollama takes one ADAPTER per
 * model). Pure: reads nothing, so `--dry-run` works before any adapter exists.
 */
export function planOllamaBuild(experts: ExpertSet, options: BuildPlanOptions): PlannedModel[] {
  const expertsDir = resolve(options.expertsDir);
  const outDir = resolve(options.outDir ?? "Modelfiles");
  const mergedDir = resolve(options.mergedDir ?? join(expertsDir, "adapters", "merged"));
  const chat = options.chat ?? {};
  const at = (path: string) => (isAbsolute(path) ? path : join(expertsDir, path));
  const base: PlannedBase = /\.gguf$/i.test(experts.baseModel)
    ? { file: at(experts.baseModel) }
    : { model: experts.baseModel };
  const from = "file" in base ? modelfilePath(base.file, outDir) : base.model;
  const generated = "Generated by `herd build` from experts.json: edit that file and rebuild, not this one.";
  const plan: PlannedModel[] = [
    {
      model: BASE_MODEL_NAME,
      kind: "base",
      modelfile: join(outDir, "Modelfile.base"),
      text: renderModelfile({
        comments: [`${BASE_MODEL_NAME}: the base model ${experts.baseModel}.`, generated],
        from,
        ...chat,
      }),
      base,
      chat,
    },
  ];
  const known = experts.experts.map((e) => e.name);
  const wanted = options.pairs && new Set(options.pairs.map(([a, b]) => pairKey(a, b)));
  for (const name of options.pairs?.flat() ?? []) {
    if (!known.includes(name)) throw new UnknownExpertError(name, known);
  }
  const adapters = new Map<string, string>();
  for (const expert of experts.experts) {
    const adapter = at(expert.adapter);
    adapters.set(expert.name, adapter);
    const comments = [`${expert.model}: ${expert.description || `the ${expert.name} expert`}`, generated];
    plan.push({
      model: expert.model,
      kind: "expert",
      modelfile: join(outDir, `Modelfile.${expert.name}`),
      text: renderModelfile({ comments, from, adapter: modelfilePath(adapter, outDir), ...chat }),
      base,
      adapter,
      chat,
    });
  }
  for (const variant of blendVariants(
    experts.experts.map((e) => e.name),
    options.grid ?? DEFAULT_BLEND_GRID,
  ).filter((v) => wanted === undefined || wanted.has(pairKey(v.parts[0].expert, v.parts[1].expert)))) {
    const suffix = variant.model.slice(MODEL_PREFIX.length);
    const gguf = variant.parts.every((p) => /\.gguf$/i.test(adapters.get(p.expert)!));
    const adapter = join(mergedDir, gguf ? `${suffix}.gguf` : suffix);
    const recipe = variant.parts.map((p) => `${p.weight} ${p.expert}`).join(" + ");
    const comments = [
      `${blendModelName(variant.parts)}: ${recipe}, as one adapter merged exactly by \`herd merge\`.`,
      generated,
    ];
    plan.push({
      model: variant.model,
      kind: "blend",
      modelfile: join(outDir, `Modelfile.${suffix}`),
      text: renderModelfile({ comments, from, adapter: modelfilePath(adapter, outDir), ...chat }),
      base,
      adapter,
      merge: variant.parts.map((p) => ({
        expert: p.expert,
        path: adapters.get(p.expert)!,
        weight: p.weight,
      })),
      chat,
    });
  }
  return plan;
}
