import { FileFormatError } from "../../core/errors.js";
import { type GgufHeader, type GgufTensorInfo, ggufString, readGgufHeader } from "../gguf/index.js";

/** What a valid GGUF LoRA adapter looks like after validation. */
export interface LoraAdapterInfo {
  path: string;
  architecture: string;
  /** `adapter.lora.alpha`, or undefined when absent (llama.cpp then applies no alpha / r factor). */
  alpha: number | undefined;
  /** The model tensors the adapter changes, with their ranks. */
  targets: { tensor: string; rank: number }[];
}

function fail(path: string, problem: string, fix: string): never {
  throw new FileFormatError(`LoRA adapter "${path}" ${problem}. ${fix}`, path);
}

/**
 * Checks a GGUF LoRA adapter against the base model BEFORE llama.cpp loads it (llama.cpp only says
 * "Failed to initialize LoRA adapter"): general.type `adapter`, adapter.type `lora`, the same
 * architecture as the model, every `X.lora_a` / `X.lora_b` pair complete, naming a real model
 * tensor, with ggml dims `[n_in, r]` / `[r, n_out]` matching the model tensor `[n_in, n_out]`.
 * @param adapterPath the adapter file
 * @param model the base model's header (see readGgufHeader) or its path
 * @throws FileFormatError naming the adapter file and the problem
 */
export async function validateLoraAdapter(
  adapterPath: string,
  model: GgufHeader | string,
): Promise<LoraAdapterInfo> {
  const modelHeader = typeof model === "string" ? await readGgufHeader(model) : model;
  const header = await readGgufHeader(adapterPath);
  const type = ggufString(header, "general.type");
  if (type !== "adapter") {
    fail(
      adapterPath,
      `is not an adapter (general.type is ${type === undefined ? "missing" : `"${type}"`}, expected "adapter")`,
      "Pass a GGUF LoRA file (convert a PEFT adapter with `herd merge --base <model.gguf> --out <adapter.gguf> <peft folder>`).",
    );
  }
  const adapterType = ggufString(header, "adapter.type");
  if (adapterType !== "lora") {
    fail(
      adapterPath,
      `has adapter.type ${adapterType === undefined ? "missing" : `"${adapterType}"`}, not "lora"`,
      "Only LoRA adapters are supported.",
    );
  }
  const architecture = ggufString(header, "general.architecture");
  const modelArchitecture = ggufString(modelHeader, "general.architecture");
  if (architecture !== modelArchitecture) {
    fail(
      adapterPath,
      `is for architecture "${architecture ?? "(missing)"}" but the model "${modelHeader.path}" is "${modelArchitecture ?? "(missing)"}"`,
      "Use an adapter trained on this base model.",
    );
  }
  const alphaValue = header.metadata.get("adapter.lora.alpha");
  const alpha = alphaValue && typeof alphaValue.value === "number" ? alphaValue.value : undefined;

  const modelTensors = new Map(modelHeader.tensors.map((t) => [t.name, t]));
  const pairs = new Map<string, { a?: GgufTensorInfo; b?: GgufTensorInfo }>();
  for (const t of header.tensors) {
    const match = /^(.+)\.lora_([ab])$/.exec(t.name);
    if (!match) {
      if (t.name.endsWith("_norm.weight")) continue; // llama.cpp ignores norm tensors in adapters
      fail(
        adapterPath,
        `has tensor "${t.name}", which is neither X.lora_a nor X.lora_b`,
        "Regenerate the adapter.",
      );
    }
    const [, target, part] = match as unknown as [string, string, "a" | "b"];
    const pair = pairs.get(target) ?? {};
    pair[part] = t;
    pairs.set(target, pair);
  }
  const targets: LoraAdapterInfo["targets"] = [];
  for (const [target, { a, b }] of pairs) {
    if (!a || !b)
      fail(
        adapterPath,
        `has "${target}.lora_${a ? "a" : "b"}" without "${target}.lora_${a ? "b" : "a"}"`,
        "Regenerate the adapter.",
      );
    const base = modelTensors.get(target);
    if (!base) {
      fail(
        adapterPath,
        `targets tensor "${target}", which the model "${modelHeader.path}" does not have`,
        "Use an adapter trained on this base model.",
      );
    }
    const [nIn, nOut] = base.dims;
    const [aIn, rank] = a.dims;
    const [bRank, bOut] = b.dims;
    if (a.dims.length !== 2 || b.dims.length !== 2 || aIn !== nIn || bOut !== nOut || rank !== bRank) {
      fail(
        adapterPath,
        `has mismatched shapes for "${target}": lora_a [${a.dims}] and lora_b [${b.dims}] do not fit the model tensor [${base.dims}] (expected [${nIn}, r] and [r, ${nOut}])`,
        "Use an adapter trained on this base model (or one whose A and B are not swapped).",
      );
    }
    targets.push({ tensor: target, rank: rank! });
  }
  return { path: adapterPath, architecture: architecture ?? "", alpha, targets };
}
