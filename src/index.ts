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
  expertModel,
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
  ExpertSetUpdate,
  FinishReason,
  GenerationParams,
  GenerationTarget,
  ProviderExpertReload,
  ResolvedTarget,
  ResponseFormat,
  TokenLogprob,
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
export {
  categoryMap,
  type DatasetRecord,
  type ExpertCategories,
  Hash64Set,
  type Hash64SetOptions,
  type ReadDatasetOptions,
  Reservoir,
  readDatasetRows,
  readExpertCategories,
  type SegmentOptions,
  type SegmentReport,
  segmentDataset,
  TRAINING_FORMATS,
  type TrainingFormat,
} from "./core/dataset/index.js";
export type { Embedder, EmbedOptions } from "./core/embedder.js";
export {
  AbortError,
  BackendTimeoutError,
  ConfigError,
  DimensionMismatchError,
  ExpertConfigError,
  ExpertsNotServedError,
  errorMessage,
  FileFormatError,
  HerdError,
  type HerdErrorOptions,
  type InvalidInputCode,
  InvalidInputError,
  MissingDependencyError,
  ModelNotFoundError,
  PluginError,
  ProviderResponseError,
  ProviderUnavailableError,
  ReplyTooLargeError,
  UnknownExpertError,
  UnknownNameError,
} from "./core/errors.js";
export { renderHtmlReport, renderMarkdownReport } from "./core/eval-report/index.js";
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
export {
  applyExpertSet,
  changedExperts,
  type ExpertChangeTarget,
  type ExpertSetChange,
} from "./core/expert-reload.js";
export { type ExpertDefinition, getExpert, loadExpertSet, parseExpertSet } from "./core/experts.js";
export {
  addExpertToFile,
  type ExpertsFileData,
  type ExpertsFileEdit,
  readExpertsFile,
  removeExpertFromFile,
  writeExpertsFile,
} from "./core/experts-file.js";
export {
  allowedTools,
  closeJsonPrefix,
  forcedToolCallSchema,
  isForcedToolChoice,
  type ParsedToolCall,
  parseForcedToolCall,
} from "./core/forced-tool-call.js";
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
export {
  type ErrorRecovery,
  orderPlugins,
  type Plugin,
  type PluginFactory,
  type RequestOutcome,
} from "./core/plugin.js";
export { Registry } from "./core/registry.js";
export { collectionNames, Router, type RouterInit, type RouterSettings } from "./core/router.js";
export {
  DEFAULT_ROUTE,
  defaultRoutingText,
  type HerdRouteMetadata,
  HerdRouterRunnable,
  type HerdRouterRunnableInput,
  routeTo,
} from "./core/router-runnable.js";
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
export type {
  RankedExpert,
  RouteInput,
  RouteOptions,
  RouterOptions,
  RouterService,
  RoutingDecision,
  RoutingReason,
  RoutingStrategy,
  RoutingTextMode,
  WeightingScheme,
} from "./core/routing.js";
export { type HerdRoutingInfo, routingInfo } from "./core/routing-info.js";
export {
  type BackendTimeouts,
  DEFAULT_TIMEOUTS,
  HEALTH_TIMEOUT_MS,
  resolveTimeouts,
} from "./core/timeouts.js";
export { TOKENS, type Token } from "./core/tokens.js";
export { missingUsageWarning, sumUsage, tokenUsage } from "./core/usage.js";
export { cosineDistance, cosineSimilarity, l2Normalize } from "./core/vector-math.js";
export { blendWeights } from "./core/weights.js";
export {
  type CreateHerdOptions,
  createHerd,
  type ExpertReloadResult,
  Herd,
  type HerdHealth,
} from "./herd.js";
export {
  builtinPlugins,
  type ExpertOverrideOptions,
  ExpertOverridePlugin,
  type FallbackOptions,
  FallbackPlugin,
  type MetricsOptions,
  MetricsPlugin,
  type RecentDecision,
  type RequestLoggingOptions,
  RequestLoggingPlugin,
  type RequestLogRecord,
  type StickyRoutingOptions,
  StickyRoutingPlugin,
  type TracingOptions,
  TracingPlugin,
} from "./plugins/index.js";
export {
  type PreparedExpertAdapter,
  type PrepareExpertAdapterOptions,
  prepareExpertAdapter,
} from "./providers/adapters/expert-adapter.js";
export {
  LlamaServerChatProvider,
  type LlamaServerChatProviderOptions,
} from "./providers/chat/llama-server/index.js";
export {
  LoraxChatProvider,
  type LoraxChatProviderOptions,
  type LoraxMergeOptions,
} from "./providers/chat/lorax/index.js";
export { OllamaChatProvider, type OllamaChatProviderOptions } from "./providers/chat/ollama.js";
export { VllmChatProvider, type VllmChatProviderOptions } from "./providers/chat/vllm/index.js";
export { HashingEmbedder, type HashingEmbedderOptions } from "./providers/embedders/hashing.js";
export { LangChainEmbedder, type LangChainEmbedderOptions } from "./providers/embedders/langchain.js";
export { OllamaEmbedder, type OllamaEmbedderOptions } from "./providers/embedders/ollama.js";
export { ChromaIndex, type ChromaIndexOptions } from "./providers/indexes/chroma.js";
export { MemoryIndex } from "./providers/indexes/memory.js";
export {
  createDemoAssets,
  type DemoAssets,
  LlamaCppChatProvider,
  type LlamaCppChatProviderOptions,
  LlamaCppEmbedder,
  type LlamaCppEmbedderOptions,
} from "./providers/llamacpp/index.js";
export {
  axolotlRecipe,
  type FinetuneRecipe,
  type FinetuneRecipesOptions,
  HERD_QLORA,
  runTrainer,
  type Trainer,
  TrainerNotInstalledError,
  trainingBaseModel,
  writeFinetuneRecipes,
} from "./providers/trainers/index.js";
export {
  AdminDisabledError,
  type AppOptions,
  AuthenticationError,
  createApp,
  EXPERTS_RELOAD_PATH,
  HostNotAllowedError,
  OriginNotAllowedError,
  PayloadTooLargeError,
  type RequestCheck,
  type RequestCheckOptions,
  type RequestCheckResult,
  RouteNotFoundError,
  requestChecksMiddleware,
  runRequestChecks,
  type ServedHerd,
  type ShutdownTracker,
  serverRequestChecks,
  toOpenAIError,
  trackShutdown,
  UnknownModelError,
  UnsupportedMediaTypeError,
} from "./server/index.js";
