export type { BuildEvent, BuildReport, OllamaBuildOptions } from "./build.js";
export { buildOllamaModels, listBlendModels } from "./build.js";
export { BuildManifest, sha256File } from "./build-manifest.js";
export type { BuildPlanOptions, PlannedBase, PlannedModel } from "./build-plan.js";
export { loadChatSettings, planOllamaBuild } from "./build-plan.js";
export type { ModelfileChatSettings, ModelfileParameter, ModelfileSpec } from "./modelfile.js";
export { renderModelfile } from "./modelfile.js";
export type {
  CreateModelRequest,
  CreateProgress,
  OllamaCreateClientOptions,
} from "./ollama-create-client.js";
export { OllamaCreateClient, withTag } from "./ollama-create-client.js";
