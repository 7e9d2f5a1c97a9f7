export { AdminDisabledError, EXPERTS_RELOAD_PATH, expertsReloadHandler } from "./admin-experts.js";
export { type AppOptions, createApp, DEFAULT_BODY_LIMIT } from "./app.js";
export { createJsonContentTypeCheck } from "./content-type-check.js";
export { createCorsCheck } from "./cors.js";
export { type ShutdownTracker, trackShutdown } from "./graceful-shutdown.js";
export { createHostCheck, LOCAL_HOSTS, normalizeHost } from "./host-check.js";
export {
  AuthenticationError,
  HostNotAllowedError,
  OriginNotAllowedError,
  PayloadTooLargeError,
  RouteNotFoundError,
  UnknownModelError,
  UnsupportedMediaTypeError,
} from "./http-errors.js";
export {
  createMetricsApp,
  type MetricsAppOptions,
  type MetricsSource,
  metricsHandler,
  recentDecisionsHandler,
} from "./metrics-routes.js";
export { EXPERT_PREFIX, type ModelChoice, ROUTED_MODEL, resolveModel, servedModels } from "./models.js";
export { type OpenAIError, type OpenAIErrorBody, toOpenAIError } from "./openai-error.js";
export { PLAYGROUND_CSP, PLAYGROUND_DIR, playgroundRouter } from "./playground.js";
export {
  type RequestCheck,
  type RequestCheckOptions,
  type RequestCheckResult,
  requestChecksMiddleware,
  runRequestChecks,
  serverRequestChecks,
} from "./request-check.js";
export {
  type ChatCompletionMessage,
  type ChatCompletionRequestBody,
  chatCompletionRequestSchema,
  type RouteRequestBody,
  routeRequestSchema,
} from "./request-schema.js";
export type { ServedHerd } from "./served-herd.js";
export { FACADE_DEFAULTS, type TranslatedChatRequest, translateChatRequest } from "./translate-request.js";
