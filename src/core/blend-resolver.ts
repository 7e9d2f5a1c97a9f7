import type { BlendResolver, ChatProvider, ChatProviderCapabilities, ResolvedTarget } from "./chat.js";
import { ConfigError } from "./errors.js";
import type { ExpertSet } from "./expert.js";
import type { RankedExpert, RoutingDecision } from "./routing.js";

/**
 * Model names on name-selecting backends (Ollama tags), one scheme for `herd build` and routing:
 * - `herd-<expert>`: the base model plus one expert's adapter (e.g. `herd-code`);
 * - `herd-blend-<a>-<b>-<pa>-<pb>`: a merged adapter of two experts, names in alphabetical order,
 *   weights as whole percents in the same order (e.g. `herd-blend-code-reasoning-75-25` is
 *   0.75 code + 0.25 reasoning);
 * - the base model keeps its own name (experts.json `baseModel`).
 * Modelfiles are named after the model without the `herd-` prefix: `Modelfile.code`,
 * `Modelfile.blend-code-reasoning-75-25`, plus `Modelfile.base`.
 */
export const MODEL_PREFIX = "herd-";

/** The model `herd build` makes of the base model with Herd's chat settings (`Modelfile.base`). */
export const BASE_MODEL_NAME = `${MODEL_PREFIX}base`;

/** The prefix of every blend variant's model name. */
const BLEND_PREFIX = `${MODEL_PREFIX}blend-`;

/** The blend grid step `herd build` uses when none is given. */
export const DEFAULT_BLEND_GRID = 0.25;

/** One expert and its weight (the adapter scale) in a blend. */
export interface BlendPart {
  expert: string;
  weight: number;
}

/** A two-expert blend on the grid: its model name and its parts in name order. */
export interface BlendVariant {
  model: string;
  parts: [BlendPart, BlendPart];
}

/** The default model name of an expert: `herd-<expert>`. */
export function expertModelName(expert: string): string {
  return `${MODEL_PREFIX}${expert}`;
}

/** An expert's served model name: its experts.json `model`, else `herd-<expert>`. */
export function expertModel(expert: { name: string; model?: string }): string {
  return expert.model || expertModelName(expert.name);
}

/** The model name of a two-expert blend; parts may come in any order. */
export function blendModelName(parts: readonly [BlendPart, BlendPart]): string {
  const [a, b] = [...parts].sort((x, y) => (x.expert < y.expert ? -1 : x.expert > y.expert ? 1 : 0)) as [
    BlendPart,
    BlendPart,
  ];
  const percent = (w: number) => String(Math.round(w * 100));
  return `${BLEND_PREFIX}${a.expert}-${b.expert}-${percent(a.weight)}-${percent(b.weight)}`;
}

/**
 * The interior points of a blend grid: 0.25 gives [0.25, 0.5, 0.75].
 * @throws ConfigError when the step does not split 1 into whole percents
 */
export function blendGrid(step: number): number[] {
  const n = Math.round(1 / step);
  if (!(step > 0 && step < 1) || Math.abs(n * step - 1) > 1e-9 || (100 / n) % 1 !== 0) {
    throw new ConfigError(
      `The blend grid step must split 1 into whole percents (0.5, 0.25, 0.2, 0.1, 0.05, ...), got ${step}.`,
      "grid",
    );
  }
  return Array.from({ length: n - 1 }, (_, i) => ((i + 1) * 100) / n / 100);
}

/** Every two-expert blend on the grid (what `herd build` creates), in a stable order. */
export function blendVariants(experts: readonly string[], step = DEFAULT_BLEND_GRID): BlendVariant[] {
  const grid = blendGrid(step);
  const names = [...new Set(experts)].sort();
  const variants: BlendVariant[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      for (const w of [...grid].reverse()) {
        const parts: [BlendPart, BlendPart] = [
          { expert: names[i]!, weight: w },
          { expert: names[j]!, weight: Math.round((1 - w) * 100) / 100 },
        ];
        variants.push({ model: blendModelName(parts), parts });
      }
    }
  }
  return variants;
}

/**
 * Snaps the top two selected experts to the grid: their weights are renormalized to sum to 1 and
 * the first is rounded to the nearest grid point. Returns one part when that rounds to 0 or 1.
 */
export function snapToGrid(selected: readonly RankedExpert[], step = DEFAULT_BLEND_GRID): BlendPart[] {
  blendGrid(step);
  const [first, second] = [...selected].sort((x, y) => y.weight - x.weight);
  if (!first) return [];
  if (!second || second.weight <= 0) return [{ expert: first.name, weight: 1 }];
  const total = first.weight + second.weight;
  const n = Math.round(1 / step);
  const k = Math.round((first.weight / total) * n);
  if (k >= n) return [{ expert: first.name, weight: 1 }];
  return [
    { expert: first.name, weight: k / n },
    { expert: second.name, weight: (n - k) / n },
  ];
}

function modelOf(experts: ExpertSet, name: string): string {
  return experts.experts.find((e) => e.name === name)?.model ?? expertModelName(name);
}

function baseTarget(experts: ExpertSet, model = experts.baseModel): ResolvedTarget {
  return { model, adapters: [], base: true, warnings: [] };
}

function topExpert(decision: RoutingDecision, experts: ExpertSet, warnings: string[] = []): ResolvedTarget {
  const top = [...decision.selected].sort((x, y) => y.weight - x.weight)[0]!;
  return {
    model: modelOf(experts, top.name),
    adapters: [{ expert: top.name, scale: 1 }],
    base: false,
    warnings,
  };
}

/** Settings of {@link OllamaBlendResolver}. */
export interface OllamaBlendResolverOptions {
  /** The blend grid step the variants were built with. @default 0.25 */
  grid?: number;
  /**
   * The blend model names that exist on the server. @default every two-expert blend on the grid,
   * as `herd build` creates them
   */
  variants?: Iterable<string>;
}

/**
 * Resolves decisions for backends that select a model by name and cannot blend at run time
 * (Ollama): one expert is its `herd-<expert>` model; a blend is the nearest prebuilt merged-adapter
 * variant (top two experts, weights snapped to the grid); when that variant is not built, the top
 * expert's model answers and a warning says so. `adapters` lists what the chosen model contains.
 *
 * @example
 * const resolver = new OllamaBlendResolver({ grid: 0.25 });
 * resolver.resolve(decision, experts, provider.capabilities).model; // "herd-blend-code-reasoning-75-25"
 */
export class OllamaBlendResolver implements BlendResolver {
  private readonly grid: number;
  private variants: ReadonlySet<string> | undefined;
  private readonly configured: boolean;
  /** `herd-base` when Ollama has it: the base with the chat settings `herd build` gave it. */
  private builtBase: string | undefined;

  constructor(options: OllamaBlendResolverOptions = {}) {
    this.grid = options.grid ?? DEFAULT_BLEND_GRID;
    blendGrid(this.grid);
    this.variants = options.variants ? new Set(options.variants) : undefined;
    this.configured = options.variants !== undefined;
  }

  /**
   * Unless `variants` were configured, asks the provider which models exist and from then on
   * picks only blend variants that are built (others fall back to the top expert with a warning).
   * When the provider cannot list models or is down, every variant on the grid is assumed built.
   */
  async prepare(provider: ChatProvider): Promise<void> {
    if (!provider.listModels) return;
    let models: string[];
    try {
      models = (await provider.listModels()).map((m) => m.replace(/:latest$/, ""));
    } catch {
      return; // Ollama is down or cannot list: assume every variant is built, use the configured base.
    }
    this.builtBase = models.includes(BASE_MODEL_NAME) ? BASE_MODEL_NAME : undefined;
    if (!this.configured) this.variants = new Set(models.filter((m) => m.startsWith(BLEND_PREFIX)));
  }

  resolve(
    decision: RoutingDecision,
    experts: ExpertSet,
    _capabilities?: ChatProviderCapabilities,
  ): ResolvedTarget {
    const selected = decision.selected.filter((s) => s.weight > 0);
    if (selected.length === 0) return baseTarget(experts, this.builtBase);
    const warnings: string[] = [];
    if (selected.length > 2) {
      const dropped = [...selected].sort((x, y) => y.weight - x.weight).slice(2);
      warnings.push(
        `Blends are prebuilt for two experts; left out ${dropped.map((d) => `"${d.name}"`).join(", ")} and renormalized the top two.`,
      );
    }
    const parts = snapToGrid(selected, this.grid);
    if (parts.length === 1) {
      const name = parts[0]!.expert;
      return { model: modelOf(experts, name), adapters: [{ expert: name, scale: 1 }], base: false, warnings };
    }
    const model = blendModelName(parts as [BlendPart, BlendPart]);
    const known = experts.experts.map((e) => e.name);
    const built = this.variants ? this.variants.has(model) : parts.every((p) => known.includes(p.expert));
    if (!built) {
      const top = parts[0]!.expert;
      warnings.push(
        `Blend variant "${model}" is not built; the top expert "${top}" answers alone. Build the variants with \`herd build\`.`,
      );
      return { ...topExpert({ ...decision, selected }, experts), warnings };
    }
    return {
      model,
      adapters: parts.map((p) => ({ expert: p.expert, scale: p.weight })),
      base: false,
      warnings,
    };
  }
}

/** Settings of {@link NativeBlendResolver}. */
export interface NativeBlendResolverOptions {
  /**
   * How to resolve blends on a provider without native blending (capabilities.nativeBlend false).
   * @default the top expert alone, with a warning
   */
  fallback?: BlendResolver;
}

/**
 * Resolves decisions for backends that apply several adapters with scales in one pass
 * (embedded llama.cpp, llama-server, LoRAX): a blend is the base model with each selected expert's
 * adapter at its routing weight; one expert is its model with its adapter at scale 1.
 *
 * @example
 * const resolver = new NativeBlendResolver({ fallback: new OllamaBlendResolver() });
 */
export class NativeBlendResolver implements BlendResolver {
  constructor(private readonly options: NativeBlendResolverOptions = {}) {}

  /** Prepares the fallback resolver, which serves providers that cannot blend. */
  async prepare(provider: ChatProvider): Promise<void> {
    if (!provider.capabilities.nativeBlend) await this.options.fallback?.prepare?.(provider);
  }

  resolve(
    decision: RoutingDecision,
    experts: ExpertSet,
    capabilities: ChatProviderCapabilities,
  ): ResolvedTarget {
    const selected = decision.selected.filter((s) => s.weight > 0);
    if (selected.length === 0) return baseTarget(experts);
    if (selected.length === 1) return topExpert(decision, experts);
    if (!capabilities.nativeBlend) {
      if (this.options.fallback) return this.options.fallback.resolve(decision, experts, capabilities);
      return topExpert(decision, experts, [
        `This provider cannot blend adapters; the top expert answers alone instead of ${selected.length} experts.`,
      ]);
    }
    return {
      model: experts.baseModel,
      adapters: selected.map((s) => ({ expert: s.name, scale: s.weight })),
      base: false,
      warnings: [],
    };
  }
}
