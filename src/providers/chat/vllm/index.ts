export { parseVllmModels, type VllmServedModels } from "./vllm-models.js";
export { VllmChatProvider, type VllmChatProviderOptions } from "./vllm-provider.js";
