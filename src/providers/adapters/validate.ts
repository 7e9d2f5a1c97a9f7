import { basename } from "node:path";
import { FileFormatError } from "../../core/errors.js";
import { type GgufHeader, ggufString } from "../gguf/index.js";
import type { AdapterFormat, LoraAdapter } from "./lora-adapter.js";

function sameBase(a: string, b: string): boolean {
  // A hub id and a local copy of it ("meta-llama/Llama-2-7b-hf" vs "/models/Llama-2-7b-hf") agree.
  return a === b || basename(a.replace(/[\\/]+$/, "")) === basename(b.replace(/[\\/]+$/, ""));
}

/**
 * Checks that adapters can be merged into `format`: one format, one base architecture or base
 * model, and the same [out, in] shape for every module they share.
 * @throws FileFormatError naming the offending file and what to do
 */
export function validateMergeInputs(adapters: readonly LoraAdapter[], format: AdapterFormat): void {
  const first = adapters[0];
  if (!first) throw new FileFormatError("Nothing to merge: give at least one adapter.");
  for (const adapter of adapters) {
    if (adapter.format !== format) {
      throw new FileFormatError(
        `Adapter "${adapter.path}" is ${adapter.format === "gguf" ? "a GGUF file" : "a PEFT folder"} but the output is ` +
          `${format === "gguf" ? "GGUF" : "PEFT"}: pass the GGUF base model (--base) so Herd can convert it, ` +
          "or choose the output format with --format.",
        adapter.path,
      );
    }
    if (adapter.architecture !== first.architecture) {
      throw new FileFormatError(
        `Adapter "${adapter.path}" is for architecture "${adapter.architecture}" but "${first.path}" is for ` +
          `"${first.architecture}": merged adapters must be trained on the same base model.`,
        adapter.path,
      );
    }
    if (adapter.baseModel && first.baseModel && !sameBase(adapter.baseModel, first.baseModel)) {
      throw new FileFormatError(
        `Adapter "${adapter.path}" was trained on "${adapter.baseModel}" but "${first.path}" on "${first.baseModel}": ` +
          "merged adapters must be trained on the same base model.",
        adapter.path,
      );
    }
  }
  const shapes = new Map<string, { out: number; in: number; path: string }>();
  for (const adapter of adapters) {
    for (const m of adapter.modules) {
      const seen = shapes.get(m.name);
      if (!seen) {
        shapes.set(m.name, { out: m.outFeatures, in: m.inFeatures, path: adapter.path });
      } else if (seen.out !== m.outFeatures || seen.in !== m.inFeatures) {
        throw new FileFormatError(
          `Adapter "${adapter.path}" changes "${m.name}" as a [${m.outFeatures}, ${m.inFeatures}] weight but ` +
            `"${seen.path}" as [${seen.out}, ${seen.in}]: the adapters were trained on different base models.`,
          adapter.path,
        );
      }
    }
  }
}

/**
 * Checks a GGUF adapter against the GGUF base model it will be loaded with: the architecture and,
 * for every module, a base tensor of the same name with ne [in, out]. llama.cpp itself only says
 * `Failed to initialize LoRA adapter`; this names the problem.
 * @throws FileFormatError naming the adapter
 */
export function validateAgainstBaseModel(adapter: LoraAdapter, base: GgufHeader): void {
  const architecture = ggufString(base, "general.architecture");
  if (adapter.architecture !== undefined && adapter.architecture !== architecture) {
    throw new FileFormatError(
      `Adapter "${adapter.path}" is for architecture "${adapter.architecture}" but the base model "${base.path}" is ` +
        `"${architecture}": use an adapter trained on this base model.`,
      adapter.path,
    );
  }
  if (adapter.format !== "gguf") return;
  const tensors = new Map(base.tensors.map((t) => [t.name, t.dims]));
  for (const m of adapter.modules) {
    const dims = tensors.get(m.name);
    if (!dims) {
      throw new FileFormatError(
        `Adapter "${adapter.path}" targets "${m.name}", which the base model "${base.path}" does not have: ` +
          "the adapter was made for another model.",
        adapter.path,
      );
    }
    if (dims[0] !== m.inFeatures || dims[1] !== m.outFeatures) {
      throw new FileFormatError(
        `Adapter "${adapter.path}" changes "${m.name}" as ne [${m.inFeatures}, ${m.outFeatures}] but the base model ` +
          `"${base.path}" has ne [${dims}]: the adapter was made for another model size.`,
        adapter.path,
      );
    }
  }
}
