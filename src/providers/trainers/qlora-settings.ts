/** One training setting, with where its value comes from. */
export interface TrainingSetting<T = number | string | boolean> {
  value: T;
  /** Why this value: the original Herd / airoboros setting it reproduces. */
  note: string;
}

/**
 * The QLoRA settings the original Herd's experts were trained with. The original Herd README says
 * its experts are "fine-tuned using QLoRA on the jondurbin/airoboros-2.1 dataset using the same
 * segmentation as in the original project" (airoboros LMoE); these are the flags of airoboros'
 * LMoE 2.1 expert training run (jondurbin's qlora.py), one adapter per expert.
 */
export const HERD_QLORA = {
  bits: { value: 4, note: "QLoRA: the base is loaded in 4 bits (qlora.py --bits 4)" },
  quantType: { value: "nf4", note: "4-bit NormalFloat (--quant_type nf4)" },
  doubleQuant: { value: true, note: "quantize the quantization constants too (--double_quant)" },
  loraR: { value: 64, note: "LoRA rank (--lora_r 64)" },
  loraAlpha: { value: 16, note: "LoRA alpha (--lora_alpha 16): scale alpha/r = 0.25" },
  loraDropout: { value: 0.1, note: "(--lora_dropout 0.1)" },
  loraTargetLinear: { value: true, note: "every linear layer (--lora_modules all)" },
  sequenceLen: { value: 4096, note: "(--model_max_len 4096)" },
  epochs: { value: 5, note: "(--num_train_epochs 5)" },
  microBatchSize: { value: 2, note: "per GPU (--per_device_train_batch_size; airoboros passed it per run)" },
  gradientAccumulationSteps: { value: 1, note: "not set by airoboros (1); raise it on small GPUs" },
  learningRate: { value: 0.0002, note: "(--learning_rate 0.0002)" },
  lrScheduler: { value: "constant", note: "(--lr_scheduler_type constant)" },
  warmupRatio: { value: 0.03, note: "(--warmup_ratio 0.03)" },
  adamBeta2: { value: 0.999, note: "(--adam_beta2 0.999)" },
  maxGradNorm: { value: 0.3, note: "(--max_grad_norm 0.3)" },
  weightDecay: { value: 0.0, note: "(--weight_decay 0.0)" },
  bf16: { value: true, note: "(--bf16)" },
  gradientCheckpointing: { value: true, note: "(--gradient_checkpointing True)" },
  seed: { value: 11422, note: "(--seed 11422 --data_seed 11422)" },
  saveSteps: { value: 100, note: "(--save_steps 100 --save_total_limit 1)" },
  loggingSteps: { value: 1, note: "(--logging_steps 1)" },
} as const satisfies Record<string, TrainingSetting>;

/** The settings as plain values. */
export type QloraSettings = { -readonly [K in keyof typeof HERD_QLORA]: (typeof HERD_QLORA)[K]["value"] };

/** The default values of {@link HERD_QLORA}. */
export function herdQloraValues(): QloraSettings {
  return Object.fromEntries(Object.entries(HERD_QLORA).map(([k, s]) => [k, s.value])) as QloraSettings;
}
