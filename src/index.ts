// Herd's public API: explicit named exports, sorted by path (so by area: container, core, plugins, providers).

export {
  type BlendResolverFactory,
  buildContainer,
  type CreateContainerOptions,
  createContainer,
  defaultRegistries,
  type Factory,
  type FactoryContext,
  type HerdRegistries,
  resolveConfig,
  resolveExperts,
} from "./container/index.js";
export {
  BASE_MODEL_NAME,
  blendModelName,
  blendVariants,
  expertModelName,
  NativeBlendResolver,
  type NativeBlendResolverOptions,
  OllamaBlendResolver,
  type OllamaBlendResolverOptions,
} from "./core/blend-resolver.js";

export type { CentroidIndex, IndexEntry, IndexHit } from "./core/centroid-index.js";
export {
  type BuildCentroidsOptions,
  buildCentroids,
  type CentroidManifest,
  type CentroidSet,
  CentroidStore,
  readCentroidFile,
  readCentroidFolder,
} from "./core/centroid-store.js";
export type {
  BlendResolver,
  ChatCallOptions,
  ChatChunk,
  ChatMessage,
  ChatProvider,
  ChatProviderCapabilities,
  ChatRequest,
  ChatRole,
  FinishReason,
  GenerationParams,
  GenerationTarget,
  ResolvedTarget,
  ResponseFormat,
  ToolCall,
  ToolChoice,
  ToolDefinition,
  Usage,
} from "./core/chat.js";
export {
  HerdChatModel,
  type HerdChatModelCallOptions,
  type HerdChatModelInput,
  type HerdChatModelSettings,
  routingOf,
} from "./core/chat-model.js";
export { ConcurrencyLimiter, type ConcurrencyLimiterOptions } from "./core/concurrency.js";
export {
  configSchema,
  type HerdConfig,
  type HerdConfigInput,
  loadConfigFile,
  parseConfig,
} from "./core/config.js";
export type { Embedder, EmbedOptions } from "./core/embedder.js";
export {
  AbortError,
  ConfigError,
  DimensionMismatchError,
  ExpertConfigError,
  errorMessage,
  FileFormatError,
  HerdError,
  type HerdErrorOptions,
  InvalidInputError,
  MissingDependencyError,
  ModelNotFoundError,
  PluginError,
  ProviderResponseError,
  ProviderUnavailableError,
  UnknownExpertError,
  UnknownNameError,
} from "./core/errors.js";
export {
  type EvaluationReport,
  type ExpertScore,
  evaluateRouter,
  formatReport,
  type LabeledPrompt,
  parseLabeledData,
  readLabeledData,
} from "./core/evaluation.js";
export type { Expert, ExpertSet } from "./core/expert.js";
export { type ExpertDefinition, getExpert, loadExpertSet, parseExpertSet } from "./core/experts.js";
export {
  type LinearManifest,
  LinearModelStore,
  type LinearTrainingOptions,
  linearTrainingHash,
  type TrainedLinearModel,
  trainLinearRouter,
} from "./core/linear-store.js";
export { formatNpy, type NpyArray, parseNpy } from "./core/npy.js";
export {
  type HerdRequest,
  type HerdResponse,
  type HerdStream,
  Pipeline,
  type PipelineOptions,
  type RequestContext,
  type RequestMetadata,
  type RequestPipeline,
  type StreamOptions,
} from "./core/pipeline.js";
export { type ErrorRecovery, orderPlugins, type Plugin, type PluginFactory } from "./core/plugin.js";
export { Registry } from "./core/registry.js";
export { collectionNames, Router, type RouterInit, type RouterSettings } from "./core/router.js";
export {
  type CoveragePoint,
  coverageCurve,
  expectedCalibrationError,
  type FeatureMatrix,
  type FitRoutingOptions,
  type FitRoutingResult,
  featureMatrix,
  fitLinearRouting,
  fitTemperature,
  LinearModel,
  type LinearModelData,
  type LinearScorer,
  type ScoredPrediction,
  type SoftmaxRegressionOptions,
  type SoftmaxWeights,
  type SparseFeatures,
  softmaxWithTemperature,
  thresholdForAccuracy,
  trainSoftmaxRegression,
} from "./core/routing/index.js";
export { type HerdRoutingInfo, routingInfo } from "./core/routing-info.js";
export { TOKENS, type Token } from "./core/tokens.js";
export { cosineDistance, cosineSimilarity, l2Normalize } from "./core/vector-math.js";
export { blendWeights } from "./core/weights.js";
export { type CreateHerdOptions, createHerd, Herd, type HerdHealth } from "./herd.js";
export {
  builtinPlugins,
  type ExpertOverrideOptions,
  ExpertOverridePlugin,
  type FallbackOptions,
  FallbackPlugin,
  type RequestLoggingOptions,
  RequestLoggingPlugin,
  type RequestLogRecord,
  type StickyRoutingOptions,
  StickyRoutingPlugin,
} from "./plugins/index.js";

export { OllamaChatProvider, type OllamaChatProviderOptions } from "./providers/chat/ollama.js";
export { HashingEmbedder, type HashingEmbedderOptions } from "./providers/embedders/hashing.js";
export { OllamaEmbedder, type OllamaEmbedderOptions } from "./providers/embedders/ollama.js";
export { ChromaIndex, type ChromaIndexOptions } from "./providers/indexes/chroma.js";
export { MemoryIndex } from "./providers/indexes/memory.js";
export {
  LlamaCppChatProvider,
  type LlamaCppChatProviderOptions,
  LlamaCppEmbedder,
  type LlamaCppEmbedderOptions,
} from "./providers/llamacpp/index.js";
export {
  type AppOptions,
  AuthenticationError,
  createApp,
  PayloadTooLargeError,
  RouteNotFoundError,
  type ServedHerd,
  type ShutdownTracker,
  toOpenAIError,
  trackShutdown,
  UnknownModelError,
} from "./server/index.js";
