import type { FloatDType } from "./dtype.js";

/** The two on-disk adapter formats Herd reads and writes. */
export type AdapterFormat =
  /** A llama.cpp GGUF LoRA file (`general.type=adapter`, `adapter.type=lora`). */
  | "gguf"
  /** A Hugging Face PEFT folder: `adapter_config.json` + `adapter_model.safetensors`. */
  | "peft";

/**
 * One adapted weight matrix W [out, in] of the base model. Its change is
 * `delta W = scale * B A`, with A [rank, in] and B [out, rank] in PyTorch order, row-major.
 * Both formats store these bytes in the same layout (GGUF `lora_a` ne [in, rank] = PyTorch [rank, in]).
 */
export interface LoraModule {
  /**
   * The target in the adapter's own naming: the GGUF model tensor (`blk.0.attn_q.weight`) or the PEFT
   * module path without the `base_model.model.` prefix (`model.layers.0.self_attn.q_proj`).
   */
  name: string;
  rank: number;
  inFeatures: number;
  outFeatures: number;
  /**
   * The factor on B A at adapter strength 1: alpha / rank (PEFT; GGUF when alpha is set),
   * alpha / sqrt(rank) (PEFT with use_rslora), or 1 (GGUF with alpha 0 or absent).
   */
  scale: number;
  dtypeA: FloatDType;
  dtypeB: FloatDType;
}

/**
 * A LoRA adapter opened for reading, format-independent: a list of modules whose A and B matrices
 * are read one at a time from the file (never the whole adapter at once). Close it when done.
 */
export interface LoraAdapter {
  /** The file (GGUF) or folder (PEFT) the adapter was opened from. */
  readonly path: string;
  readonly format: AdapterFormat;
  /** The base architecture (GGUF `general.architecture`, e.g. `llama`); undefined when the format has none. */
  readonly architecture: string | undefined;
  /** The base model the adapter was trained on (PEFT `base_model_name_or_path`), when recorded. */
  readonly baseModel: string | undefined;
  /** The adapted modules, in file order. */
  readonly modules: readonly LoraModule[];
  /** The module named `name`, or undefined. */
  module(name: string): LoraModule | undefined;
  /** Reads A [rank, in] of a module as float32, row-major. */
  readA(name: string): Promise<Float32Array>;
  /** Reads B [out, rank] of a module as float32, row-major. */
  readB(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}
