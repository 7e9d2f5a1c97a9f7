export type {
  AdapterModuleOutput,
  AdapterOutput,
  GgufLoraWriteOptions,
  PeftWriteOptions,
} from "./adapter-writer.js";
export { writeGgufLora, writePeftAdapter } from "./adapter-writer.js";
export { writeAtomically } from "./atomic-output.js";
export { convertAdapter, convertModuleName, permuteHeads } from "./convert.js";
export type { FloatDType } from "./dtype.js";
export { decodeFloats, encodeFloats, FLOAT_DTYPES, isFloatDType } from "./dtype.js";
export {
  type PreparedExpertAdapter,
  type PrepareExpertAdapterOptions,
  prepareExpertAdapter,
} from "./expert-adapter.js";
export { GgufLoraAdapter } from "./gguf-lora-adapter.js";
export type { AdapterFormat, LoraAdapter, LoraModule } from "./lora-adapter.js";
export type { MergeOptions, MergeResult, WeightedAdapter } from "./merge.js";
export { mergeAdapterFiles, mergeAdapters, outputFormatOf, planLinearMerge } from "./merge.js";
export { detectAdapterFormat, openAdapter } from "./open-adapter.js";
export { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, PeftAdapter } from "./peft-adapter.js";
export type { PeftLoraConfig } from "./peft-config.js";
export type { SafetensorsTensorInfo } from "./safetensors-file.js";
export { SafetensorsFile } from "./safetensors-file.js";
export type { TensorSpec } from "./safetensors-writer.js";
export { SafetensorsWriter } from "./safetensors-writer.js";
export { validateAgainstBaseModel, validateMergeInputs } from "./validate.js";
