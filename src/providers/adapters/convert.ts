import { FileFormatError } from "../../core/errors.js";
import { type GgufHeader, ggufNumber, ggufString } from "../gguf/index.js";
import type { AdapterFormat, LoraAdapter, LoraModule } from "./lora-adapter.js";

/**
 * Hugging Face module paths to GGUF tensor names for the llama-style decoder families, as
 * llama.cpp's convert_lora_to_gguf.py maps them (`{i}` is the layer).
 */
const NAMES: readonly [hf: string, gguf: string][] = [
  ["model.layers.{i}.self_attn.q_proj", "blk.{i}.attn_q.weight"],
  ["model.layers.{i}.self_attn.k_proj", "blk.{i}.attn_k.weight"],
  ["model.layers.{i}.self_attn.v_proj", "blk.{i}.attn_v.weight"],
  ["model.layers.{i}.self_attn.o_proj", "blk.{i}.attn_output.weight"],
  ["model.layers.{i}.mlp.gate_proj", "blk.{i}.ffn_gate.weight"],
  ["model.layers.{i}.mlp.up_proj", "blk.{i}.ffn_up.weight"],
  ["model.layers.{i}.mlp.down_proj", "blk.{i}.ffn_down.weight"],
  ["lm_head", "output.weight"],
];

/**
 * Architectures whose names follow {@link NAMES}, and whether llama.cpp's converter permutes the
 * rows of q_proj and k_proj (LlamaModel does, for its rotary embedding layout; Qwen2/3 do not).
 */
const ARCHITECTURES: Readonly<Record<string, { permuteQK: boolean }>> = {
  llama: { permuteQK: true },
  qwen2: { permuteQK: false },
  qwen3: { permuteQK: false },
};

function pattern(template: string): RegExp {
  return new RegExp(`^${template.replace(/\./g, "\\.").replace("{i}", "(\\d+)")}$`);
}

/** A module's name in the other format, or undefined when the mapping does not know it. */
export function convertModuleName(name: string, to: AdapterFormat): string | undefined {
  for (const [hf, gguf] of NAMES) {
    const [source, target] = to === "gguf" ? [hf, gguf] : [gguf, hf];
    const match = pattern(source).exec(name);
    if (match) return target.replace("{i}", match[1] ?? "");
  }
  return undefined;
}

/**
 * Reorders the rows of B [out, rank] between the Hugging Face and the llama.cpp layout of q/k
 * projections: per head, HF keeps the two rotary halves apart, llama.cpp interleaves them.
 */
export function permuteHeads(b: Float32Array, rank: number, heads: number, to: AdapterFormat): Float32Array {
  const rows = b.length / rank;
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(b.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let s = 0; s < 2; s++) {
        const hf = h * headDim + s * half + i;
        const gguf = h * headDim + i * 2 + s;
        const [from, into] = to === "gguf" ? [hf, gguf] : [gguf, hf];
        out.set(b.subarray(from * rank, (from + 1) * rank), into * rank);
      }
    }
  }
  return out;
}

/**
 * Presents an adapter in the other format's naming and layout (PEFT module paths and HF q/k row
 * order, or GGUF tensor names and llama.cpp's), so that PEFT and GGUF adapters can be merged
 * together or converted. Needs the GGUF base model for the architecture and head counts.
 * @throws FileFormatError naming the adapter when a module or the architecture has no mapping
 */
export function convertAdapter(adapter: LoraAdapter, to: AdapterFormat, base: GgufHeader): LoraAdapter {
  if (adapter.format === to) return adapter;
  const architecture = ggufString(base, "general.architecture") ?? "";
  const family = ARCHITECTURES[architecture];
  if (!family) {
    throw new FileFormatError(
      `Cannot convert "${adapter.path}" to ${to.toUpperCase()}: Herd knows the tensor names of ` +
        `${Object.keys(ARCHITECTURES).join(", ")}, not "${architecture}". Use llama.cpp's convert_lora_to_gguf.py.`,
      adapter.path,
    );
  }
  const heads = ggufNumber(base, `${architecture}.attention.head_count`) ?? 0;
  if (family.permuteQK && !(heads > 0)) {
    throw new FileFormatError(
      `The base model "${base.path}" has no ${architecture}.attention.head_count, needed to convert q/k adapters.`,
      base.path,
    );
  }
  const kvHeads = ggufNumber(base, `${architecture}.attention.head_count_kv`) ?? heads;
  const renamed = new Map<string, { module: LoraModule; source: string; heads: number }>();
  for (const module of adapter.modules) {
    const name = convertModuleName(module.name, to);
    if (!name) {
      throw new FileFormatError(
        `Cannot convert "${adapter.path}" to ${to.toUpperCase()}: no mapping for module "${module.name}".`,
        adapter.path,
      );
    }
    const kind = /(q_proj|attn_q\.weight)$/.test(module.name)
      ? heads
      : /(k_proj|attn_k\.weight)$/.test(module.name)
        ? kvHeads
        : 0;
    if (family.permuteQK && kind !== 0 && module.outFeatures % (2 * kind) !== 0) {
      throw new FileFormatError(
        `Cannot convert "${adapter.path}": module "${module.name}" has ${module.outFeatures} outputs, which ` +
          `${kind} heads of the base model "${base.path}" do not split: the adapter is for another model.`,
        adapter.path,
      );
    }
    renamed.set(name, {
      module: { ...module, name },
      source: module.name,
      heads: family.permuteQK ? kind : 0,
    });
  }
  return {
    path: adapter.path,
    format: to,
    architecture: to === "gguf" ? architecture : undefined,
    baseModel: adapter.baseModel,
    modules: [...renamed.values()].map((r) => r.module),
    module: (name) => renamed.get(name)?.module,
    readA: (name) => adapter.readA(renamed.get(name)?.source ?? name),
    async readB(name) {
      const entry = renamed.get(name);
      const b = await adapter.readB(entry?.source ?? name);
      return entry?.heads ? permuteHeads(b, entry.module.rank, entry.heads, to) : b;
    },
    close: () => adapter.close(),
  };
}
