import { FileFormatError } from "../../core/errors.js";
import { convertAdapter } from "../adapters/convert.js";
import type { LoraAdapter } from "../adapters/lora-adapter.js";
import { openAdapter } from "../adapters/open-adapter.js";
import { validateAgainstBaseModel, validateMergeInputs } from "../adapters/validate.js";
import { type GgufHeader, ggufNumber, ggufString, readGgufHeader } from "../gguf/index.js";
import { sha256Json } from "../ollama-build/build-manifest.js";
import { conversionNeedsBase, hasPatterns, type SourceAdapterInfo } from "./adapter-output.js";
import { sameBaseModel } from "./base-model.js";
import type { EnginePlan } from "./engine-plan.js";
import { ENGINE_TRAITS } from "./engines.js";

/** What checking the experts' adapters learned. */
export interface ExpertCheck {
  /** The base models the PEFT adapters record (`base_model_name_or_path`), without repeats. */
  trainedOn: string[];
  /** The adapter behind an expert-only planned adapter, by its path. */
  source(path: string): SourceAdapterInfo;
  /** Warnings for serving on `baseModel` (adapters recorded as trained on another base). */
  warnings(baseModel: string): string[];
  /** A digest of what conversions depend on in the base GGUF (architecture and head counts). */
  baseDigest(): string | null;
}

/**
 * Opens every expert adapter of a plan (which checks each file), and checks them together the
 * way a merge would: adapters in the other format convert with the GGUF base (or the error says
 * to pass it), all share one base architecture or base model and the same shape for every module,
 * and with a GGUF base every adapter fits its tensors.
 * @throws FileFormatError naming the adapter and the fix
 */
export async function checkExpertAdapters(
  plan: EnginePlan,
  options: { baseGguf?: string | undefined },
): Promise<ExpertCheck> {
  const { format, label } = ENGINE_TRAITS[plan.engine];
  const base: GgufHeader | undefined = options.baseGguf ? await readGgufHeader(options.baseGguf) : undefined;
  const experts = plan.adapters.filter((a) => a.kind === "expert").map((a) => a.parts[0]!);
  const opened: LoraAdapter[] = [];
  const infos = new Map<string, SourceAdapterInfo>();
  const trainedOn: { expert: string; base: string }[] = [];
  try {
    for (const expert of experts) {
      const adapter = await openAdapter(expert.path);
      opened.push(adapter);
      infos.set(expert.path, { format: adapter.format, hasPatterns: hasPatterns(adapter) });
      if (adapter.baseModel) trainedOn.push({ expert: expert.expert, base: adapter.baseModel });
      if (adapter.format !== format && !base)
        throw conversionNeedsBase(expert.path, expert.expert, format, label);
    }
    const views = opened.map((a) => (base && a.format !== format ? convertAdapter(a, format, base) : a));
    validateMergeInputs(views, format);
    if (base) {
      for (const [i, view] of views.entries()) {
        const original = opened[i]!;
        validateAgainstBaseModel(
          original.format === "gguf" || view.format !== "gguf" ? original : view,
          base,
        );
      }
    }
  } finally {
    await Promise.all(opened.map((a) => a.close()));
  }
  return {
    trainedOn: [...new Set(trainedOn.map((t) => t.base))],
    source(path) {
      const info = infos.get(path);
      if (!info) throw new FileFormatError(`No expert adapter was checked at ${path}.`, path);
      return info;
    },
    warnings: (baseModel) =>
      trainedOn
        .filter((t) => !sameBaseModel(t.base, baseModel))
        .map(
          (t) =>
            `Expert "${t.expert}" was trained on "${t.base}" but ${label} will serve "${baseModel}": ` +
            "check --model (an adapter only fits the base it was trained on).",
        ),
    baseDigest() {
      if (!base) return null;
      const arch = ggufString(base, "general.architecture") ?? "";
      return sha256Json({
        arch,
        heads: ggufNumber(base, `${arch}.attention.head_count`) ?? null,
        kvHeads: ggufNumber(base, `${arch}.attention.head_count_kv`) ?? null,
      });
    },
  };
}
