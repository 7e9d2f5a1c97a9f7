import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gguf, writeGguf } from "../gguf/index.js";
import { writeAtomically } from "./atomic-output.js";
import { encodeFloats, type FloatDType } from "./dtype.js";
import { GGML_FLOAT_TYPES, GGUF_LORA_A, GGUF_LORA_B } from "./gguf-lora-adapter.js";
import { PEFT_CONFIG_FILE, PEFT_PREFIX, PEFT_WEIGHTS_FILE } from "./peft-adapter.js";
import type { PeftLoraConfig } from "./peft-config.js";
import { SafetensorsWriter, type TensorSpec } from "./safetensors-writer.js";

/** One module to write; A and B are produced on demand so that one module is in memory at a time. */
export interface AdapterModuleOutput {
  /** The target in the output format's naming (GGUF tensor name, or PEFT module path). */
  name: string;
  rank: number;
  inFeatures: number;
  outFeatures: number;
  /** A [rank, in], row-major. */
  a: () => Promise<Float32Array>;
  /** B [out, rank], row-major. */
  b: () => Promise<Float32Array>;
}

/** What an adapter file holds, format-independent. */
export interface AdapterOutput {
  modules: readonly AdapterModuleOutput[];
  /** GGUF `general.architecture` (required for GGUF output, e.g. `llama`). */
  architecture?: string;
  /** PEFT `base_model_name_or_path`. */
  baseModel?: string;
}

/** Settings for writing a GGUF LoRA file. */
export interface GgufLoraWriteOptions {
  /** Tensor encoding. @default "F32" */
  dtype?: FloatDType;
  /** `adapter.lora.alpha`: the scale is alpha / rank per tensor; 0 means a scale of 1. @default 0 */
  alpha?: number;
  /** `general.name`. @default "herd adapter" */
  name?: string;
}

function encoded(values: Float32Array, dtype: FloatDType): Float32Array | Uint8Array {
  return dtype === "F32" ? values : encodeFloats(values, dtype);
}

/**
 * Writes a llama.cpp GGUF LoRA adapter (temp file + rename; nothing is left behind on error).
 * @example
 * await writeGgufLora("merged.gguf", { architecture: "llama", modules }, { alpha: 0 });
 */
export async function writeGgufLora(
  path: string,
  output: AdapterOutput,
  options: GgufLoraWriteOptions = {},
): Promise<void> {
  const dtype = options.dtype ?? "F32";
  if (!output.architecture) throw new Error("writeGgufLora: the GGUF output needs an architecture");
  const type = GGML_FLOAT_TYPES[dtype];
  await writeGguf(path, {
    metadata: new Map([
      ["general.architecture", gguf.string(output.architecture)],
      ["general.type", gguf.string("adapter")],
      ["general.name", gguf.string(options.name ?? "herd adapter")],
      ["adapter.type", gguf.string("lora")],
      ["adapter.lora.alpha", gguf.f32(options.alpha ?? 0)],
    ]),
    tensors: output.modules.flatMap((m) => [
      {
        name: m.name + GGUF_LORA_A,
        dims: [m.inFeatures, m.rank],
        type,
        data: async () => encoded(await m.a(), dtype),
      },
      {
        name: m.name + GGUF_LORA_B,
        dims: [m.rank, m.outFeatures],
        type,
        data: async () => encoded(await m.b(), dtype),
      },
    ]),
  });
}

/** Settings for writing a PEFT adapter folder. */
export interface PeftWriteOptions {
  /** Tensor encoding. @default "F32" */
  dtype?: FloatDType;
  /** `lora_alpha`. @default the rank r, so that alpha / r = 1 */
  loraAlpha?: number;
  /** `use_rslora`: scale alpha / sqrt(r). @default false */
  useRslora?: boolean;
  /**
   * PEFT scales by the configured r, llama.cpp and Ollama by each tensor's rank; to agree, modules of
   * a lower rank are padded with zero rows of A and zero columns of B up to r (this leaves B A
   * unchanged). With false, lower ranks are recorded in `rank_pattern` instead. @default true
   */
  padRanks?: boolean;
}

function padded(
  values: Float32Array,
  rows: number,
  cols: number,
  newRows: number,
  newCols: number,
): Float32Array {
  if (rows === newRows && cols === newCols) return values;
  const out = new Float32Array(newRows * newCols);
  for (let r = 0; r < rows; r++) out.set(values.subarray(r * cols, (r + 1) * cols), r * newCols);
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Writes a PEFT LoRA folder (adapter_config.json + adapter_model.safetensors) through a temporary
 * folder renamed into place. Tensors are streamed one at a time.
 */
export async function writePeftAdapter(
  dir: string,
  output: AdapterOutput,
  options: PeftWriteOptions = {},
): Promise<void> {
  const dtype = options.dtype ?? "F32";
  const pad = options.padRanks ?? true;
  const r = Math.max(1, ...output.modules.map((m) => m.rank));
  const rankPattern: Record<string, number> = {};
  const specs: TensorSpec[] = [];
  for (const m of output.modules) {
    const rank = pad ? r : m.rank;
    if (rank !== r) rankPattern[escapeRegExp(m.name)] = rank;
    specs.push({ name: `${PEFT_PREFIX}${m.name}.lora_A.weight`, dtype, shape: [rank, m.inFeatures] });
    specs.push({ name: `${PEFT_PREFIX}${m.name}.lora_B.weight`, dtype, shape: [m.outFeatures, rank] });
  }
  const targets = [...new Set(output.modules.map((m) => m.name.split(".").at(-1)!))].sort();
  const config: PeftLoraConfig = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: output.baseModel ?? null,
    r,
    lora_alpha: options.loraAlpha ?? r,
    lora_dropout: 0,
    bias: "none",
    use_rslora: options.useRslora ?? false,
    target_modules: targets,
    rank_pattern: rankPattern,
    alpha_pattern: {},
    fan_in_fan_out: false,
    inference_mode: true,
  };
  await writeAtomically(dir, async (temp) => {
    await mkdir(temp);
    await writeFile(join(temp, PEFT_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
    const writer = await SafetensorsWriter.create(join(temp, PEFT_WEIGHTS_FILE), specs, { format: "pt" });
    try {
      for (const m of output.modules) {
        const rank = pad ? r : m.rank;
        const a = padded(await m.a(), m.rank, m.inFeatures, rank, m.inFeatures);
        await writer.write(`${PEFT_PREFIX}${m.name}.lora_A.weight`, encodeFloats(a, dtype));
        const b = padded(await m.b(), m.outFeatures, m.rank, m.outFeatures, rank);
        await writer.write(`${PEFT_PREFIX}${m.name}.lora_B.weight`, encodeFloats(b, dtype));
      }
      await writer.close();
    } catch (error) {
      await writer.abort();
      throw error;
    }
  });
}
