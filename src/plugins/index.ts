export { builtinPlugins } from "./builtin.js";
export { type ExpertOverrideOptions, ExpertOverridePlugin } from "./expert-override.js";
export { type FallbackOptions, FallbackPlugin } from "./fallback.js";
export { LruMap } from "./lru-map.js";
export {
  type BackendErrorKind,
  backendErrorKind,
  type LoadSource,
  type MetricsOptions,
  MetricsPlugin,
  type RecentDecision,
} from "./metrics/index.js";
export {
  type RequestLoggingOptions,
  RequestLoggingPlugin,
  type RequestLogRecord,
} from "./request-logging.js";
export { type StickyRoutingOptions, StickyRoutingPlugin } from "./sticky-routing.js";
export { type TracingOptions, TracingPlugin } from "./tracing/index.js";
