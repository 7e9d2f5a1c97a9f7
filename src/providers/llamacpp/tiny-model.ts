import {
  encodeGguf,
  type GgufValue,
  type GgufWriteInput,
  type GgufWriteTensor,
  gguf,
  writeGguf,
} from "../gguf/index.js";
import { seededRandom } from "./seeded-random.js";

/** The shape and seed of a generated tiny llama model. */
export interface TinyModelOptions {
  /** Seed of the random weights. @default 1 */
  seed?: number | string;
  /** n_embd. @default 64 */
  embeddingLength?: number;
  /** Transformer blocks. @default 2 */
  blockCount?: number;
  /** Attention heads; must divide `embeddingLength`. @default 4 */
  headCount?: number;
  /** Key/value heads (grouped-query attention); must divide `headCount`. @default headCount */
  headCountKv?: number;
  /** n_ff. @default 128 */
  feedForwardLength?: number;
  /** Trained context length written to the metadata. @default 256 */
  contextLength?: number;
}

/** Every field of {@link TinyModelOptions}, resolved. */
export type TinyModelConfig = Required<TinyModelOptions>;

/** The end-of-text token; also used as beginning-of-text. */
export const TINY_MODEL_EOS = "<|endoftext|>";

/** BPE merges of the tiny vocabulary (GPT-2 byte alphabet, `Ġ` is a space). */
const MERGES = ["Ġ t", "h e", "Ġt he", "i n", "e r", "a n", "Ġ a", "o n"];

/** Resolves defaults and checks the shape is one llama.cpp accepts. */
export function tinyModelConfig(options: TinyModelOptions = {}): TinyModelConfig {
  const headCount = options.headCount ?? 4;
  const config: TinyModelConfig = {
    seed: options.seed ?? 1,
    embeddingLength: options.embeddingLength ?? 64,
    blockCount: options.blockCount ?? 2,
    headCount,
    headCountKv: options.headCountKv ?? headCount,
    feedForwardLength: options.feedForwardLength ?? 128,
    contextLength: options.contextLength ?? 256,
  };
  const { embeddingLength: e, headCountKv } = config;
  if (e % headCount !== 0 || (e / headCount) % 2 !== 0 || headCount % headCountKv !== 0) {
    throw new RangeError(
      `Tiny model: embeddingLength ${e} must be a multiple of 2 x headCount (${headCount}), and headCount of headCountKv (${headCountKv}).`,
    );
  }
  return config;
}

/** The GPT-2 byte-to-unicode table: printable bytes map to themselves, others to U+0100 and up. */
function byteTokens(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const tokens: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) tokens.push(String.fromCharCode(printable(b) ? b : 256 + extra++));
  return tokens;
}

/** The vocabulary: 256 byte tokens, the merge results, then `<|endoftext|>`. */
export function tinyVocabulary(): { tokens: string[]; merges: string[]; eosId: number } {
  const tokens = [...byteTokens(), ...MERGES.map((m) => m.replace(" ", "")), TINY_MODEL_EOS];
  return { tokens, merges: [...MERGES], eosId: tokens.length - 1 };
}

/** Names and ggml dims (`[n_in, n_out]`) of every tensor of the model. */
export function tinyModelTensorShapes(options: TinyModelOptions = {}): { name: string; dims: number[] }[] {
  const c = tinyModelConfig(options);
  const vocab = tinyVocabulary().tokens.length;
  const e = c.embeddingLength;
  const kv = (e / c.headCount) * c.headCountKv;
  const shapes = [
    { name: "token_embd.weight", dims: [e, vocab] },
    { name: "output_norm.weight", dims: [e] },
    { name: "output.weight", dims: [e, vocab] },
  ];
  for (let i = 0; i < c.blockCount; i++) {
    const b = `blk.${i}`;
    shapes.push(
      { name: `${b}.attn_norm.weight`, dims: [e] },
      { name: `${b}.attn_q.weight`, dims: [e, e] },
      { name: `${b}.attn_k.weight`, dims: [e, kv] },
      { name: `${b}.attn_v.weight`, dims: [e, kv] },
      { name: `${b}.attn_output.weight`, dims: [e, e] },
      { name: `${b}.ffn_norm.weight`, dims: [e] },
      { name: `${b}.ffn_gate.weight`, dims: [e, c.feedForwardLength] },
      { name: `${b}.ffn_up.weight`, dims: [e, c.feedForwardLength] },
      { name: `${b}.ffn_down.weight`, dims: [c.feedForwardLength, e] },
    );
  }
  return shapes;
}

/**
 * The contents of a tiny llama GGUF model with seeded random F32 weights: every key llama.cpp
 * requires (a missing one aborts the process), a byte-level GPT-2 tokenizer and no chat template.
 * Its text is gibberish; it exists to exercise a real runtime offline.
 */
export function tinyModelGguf(options: TinyModelOptions = {}): GgufWriteInput {
  const c = tinyModelConfig(options);
  const { tokens, merges, eosId } = tinyVocabulary();
  const metadata: [string, GgufValue][] = [
    ["general.architecture", gguf.string("llama")],
    ["general.name", gguf.string("herd-tiny-llama")],
    ["general.alignment", gguf.u32(32)],
    ["llama.context_length", gguf.u32(c.contextLength)],
    ["llama.embedding_length", gguf.u32(c.embeddingLength)],
    ["llama.block_count", gguf.u32(c.blockCount)],
    ["llama.feed_forward_length", gguf.u32(c.feedForwardLength)],
    ["llama.attention.head_count", gguf.u32(c.headCount)],
    ["llama.attention.head_count_kv", gguf.u32(c.headCountKv)],
    ["llama.attention.layer_norm_rms_epsilon", gguf.f32(1e-5)],
    ["llama.rope.dimension_count", gguf.u32(c.embeddingLength / c.headCount)],
    ["llama.rope.freq_base", gguf.f32(10000)],
    ["tokenizer.ggml.model", gguf.string("gpt2")],
    ["tokenizer.ggml.pre", gguf.string("gpt-2")],
    ["tokenizer.ggml.tokens", gguf.strings(tokens)],
    [
      "tokenizer.ggml.token_type",
      gguf.numbers(
        "i32",
        tokens.map((_, i) => (i === eosId ? 3 : 1)),
      ),
    ],
    ["tokenizer.ggml.merges", gguf.strings(merges)],
    ["tokenizer.ggml.bos_token_id", gguf.u32(eosId)],
    ["tokenizer.ggml.eos_token_id", gguf.u32(eosId)],
  ];
  const random = seededRandom(`model:${c.seed}`);
  const e = c.embeddingLength;
  const tensors: GgufWriteTensor[] = tinyModelTensorShapes(c).map(({ name, dims }) => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    if (name.endsWith("_norm.weight")) data.fill(1);
    else {
      // Embeddings near unit scale, the output head wide enough for a peaked distribution,
      // other weights ~1/sqrt(n_in) so activations stay in range.
      const std = name === "token_embd.weight" ? 1 : name === "output.weight" ? 0.5 : 1 / Math.sqrt(dims[0]!);
      for (let i = 0; i < data.length; i++) data[i] = random.normal() * std;
    }
    // Readable gibberish: every embedding carries a constant +8 in dimension 0, which survives the
    // residual stream, and the output head turns it into a large negative logit for control and
    // non-ASCII bytes, so the model mostly writes printable ASCII.
    if (name === "token_embd.weight") for (let t = 0; t < dims[1]!; t++) data[t * e] = 8;
    if (name === "output.weight") {
      for (let t = 0; t < 256; t++) if (t < 32 || t > 126) data[t * e] = -4;
    }
    return { name, dims, data };
  });
  return { metadata, tensors };
}

/** Writes the tiny model to `path` (atomically). About 0.5 MB with the defaults. */
export async function writeTinyModel(path: string, options: TinyModelOptions = {}): Promise<void> {
  await writeGguf(path, tinyModelGguf(options));
}

/** The LoRA targets of {@link tinyLoraGguf} by default: attention and feed-forward projections. */
export const TINY_LORA_TARGETS = [
  "attn_q",
  "attn_k",
  "attn_v",
  "attn_output",
  "ffn_gate",
  "ffn_up",
  "ffn_down",
];

/** Settings of a generated LoRA adapter. */
export interface TinyLoraOptions {
  /** Seed of the adapter weights; use the expert name for one distinct adapter per expert. */
  seed: number | string;
  /** LoRA rank r. @default 8 */
  rank?: number;
  /** `adapter.lora.alpha`; the effect is scaled by alpha / rank. @default rank */
  alpha?: number;
  /** Block tensors to adapt (`attn_q`, `ffn_down`, ...). @default TINY_LORA_TARGETS */
  targets?: readonly string[];
  /**
   * Size of the update relative to the base weights (the std of B A x over the std of W x).
   * The default changes the next-token distribution clearly. @default 1
   */
  strength?: number;
}

/**
 * A GGUF LoRA adapter for the tiny model: `<tensor>.lora_a` ggml dims `[n_in, r]` and
 * `<tensor>.lora_b` dims `[r, n_out]` for each target of each block, with seeded random weights.
 */
export function tinyLoraGguf(model: TinyModelOptions, options: TinyLoraOptions): GgufWriteInput {
  const rank = options.rank ?? 8;
  const alpha = options.alpha ?? rank;
  const strength = options.strength ?? 1;
  const targets = new Set(options.targets ?? TINY_LORA_TARGETS);
  if (!Number.isInteger(rank) || rank < 1)
    throw new RangeError(`LoRA rank must be a positive integer, got ${rank}.`);
  const random = seededRandom(`lora:${options.seed}`);
  const tensors: GgufWriteTensor[] = [];
  for (const { name, dims } of tinyModelTensorShapes(model)) {
    const target = /^blk\.\d+\.(\w+)\.weight$/.exec(name)?.[1];
    if (target === undefined || !targets.has(target)) continue;
    const [nIn, nOut] = dims as [number, number];
    // x has unit-scale entries: A x has entries ~ 1 and B (A x) ~ strength, like W x ~ 1;
    // the rank / alpha factor cancels the runtime's alpha / rank scaling.
    const a = Float32Array.from({ length: nIn * rank }, () => random.normal() / Math.sqrt(nIn));
    const bStd = (strength * rank) / alpha / Math.sqrt(rank);
    const b = Float32Array.from({ length: rank * nOut }, () => random.normal() * bStd);
    tensors.push({ name: `${name}.lora_a`, dims: [nIn, rank], data: a });
    tensors.push({ name: `${name}.lora_b`, dims: [rank, nOut], data: b });
  }
  const metadata: [string, GgufValue][] = [
    ["general.architecture", gguf.string("llama")],
    ["general.type", gguf.string("adapter")],
    ["general.name", gguf.string(`herd-tiny-lora-${options.seed}`)],
    ["adapter.type", gguf.string("lora")],
    ["adapter.lora.alpha", gguf.f32(alpha)],
  ];
  return { metadata, tensors };
}

/** Writes a tiny LoRA adapter to `path` (atomically). */
export async function writeTinyLora(
  path: string,
  model: TinyModelOptions,
  options: TinyLoraOptions,
): Promise<void> {
  await writeGguf(path, tinyLoraGguf(model, options));
}

/** Encodes the tiny model in memory (for hashing or writing yourself). */
export function encodeTinyModel(options: TinyModelOptions = {}): Uint8Array {
  return encodeGguf(tinyModelGguf(options));
}
