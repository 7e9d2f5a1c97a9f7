export { LlamaServerChatProvider, type LlamaServerChatProviderOptions } from "./llama-server-provider.js";
export {
  type ExpertAdapterFile,
  expertAdapterFiles,
  type LoadedLora,
  matchAdapters,
  parseLoraAdapters,
} from "./lora-adapters.js";
