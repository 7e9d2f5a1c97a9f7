export { type BackendErrorKind, backendErrorKind } from "./backend-error-kind.js";
export { HerdMetrics, type LoadSource } from "./herd-metrics.js";
export { type MetricsOptions, MetricsPlugin } from "./metrics-plugin.js";
export { type RecentDecision, RecentDecisions } from "./recent-decisions.js";
