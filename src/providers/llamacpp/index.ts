export type { LoraAdapterInfo } from "./adapter-validation.js";
export { validateLoraAdapter } from "./adapter-validation.js";
export type { LlamaCppChatProviderOptions } from "./chat-provider.js";
export { LlamaCppChatProvider } from "./chat-provider.js";
export type { ContextPoolOptions, Lease } from "./context-pool.js";
export { ContextPool } from "./context-pool.js";
export type { DemoAssets, DemoAssetsOptions } from "./demo-assets.js";
export { createDemoAssets, defaultDemoDir } from "./demo-assets.js";
export type { LlamaCppEmbedderOptions } from "./embedder.js";
export { LlamaCppEmbedder } from "./embedder.js";
export { ggufAdaptersFromExperts } from "./experts-adapters.js";
export type { NodeLlamaCpp } from "./load-node-llama-cpp.js";
export { defaultThreads, importOptional, loadNodeLlamaCpp } from "./load-node-llama-cpp.js";
export type { SeededRandom } from "./seeded-random.js";
export { hashSeed, seededRandom } from "./seeded-random.js";
export type { TinyLoraOptions, TinyModelConfig, TinyModelOptions } from "./tiny-model.js";
export {
  encodeTinyModel,
  TINY_LORA_TARGETS,
  TINY_MODEL_EOS,
  tinyLoraGguf,
  tinyModelConfig,
  tinyModelGguf,
  tinyModelTensorShapes,
  tinyVocabulary,
  writeTinyLora,
  writeTinyModel,
} from "./tiny-model.js";
