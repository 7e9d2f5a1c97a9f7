import { Counter, Gauge, type Registry } from "prom-client";
import { FastCounter, FastHistogram } from "./fast-metrics.js";

/** Seconds buckets of OpenTelemetry's `gen_ai.server.request.duration`. */
const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** Seconds buckets of OpenTelemetry's `gen_ai.server.time_to_first_token`. */
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Token buckets of OpenTelemetry's `gen_ai.client.token.usage`. */
const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
/** Routing is sub-millisecond to tens of milliseconds (an embedding call to Ollama). */
const ROUTING_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** Labels of the OpenTelemetry GenAI metrics, in Prometheus spelling, plus the expert(s). */
const GEN_AI_LABELS = [
  "gen_ai_operation_name",
  "gen_ai_provider_name",
  "gen_ai_request_model",
  "gen_ai_response_model",
  "herd_expert",
] as const;

type GenAiLabel = (typeof GEN_AI_LABELS)[number];

/** What `herd_requests_queued` and `herd_generations_running` read at scrape time. */
export type LoadSource = () => { running: number; queued: number };

/**
 * Every metric Herd exports, registered on one prom-client registry. Names follow OpenTelemetry's
 * GenAI semantic conventions mapped to Prometheus (dots to underscores, unit suffix), Herd's own
 * carry the `herd_` prefix.
 */
export class HerdMetrics {
  readonly requests: FastCounter<"route" | "model" | "expert" | "status">;
  readonly decisions: FastCounter<"expert" | "reason">;
  readonly blendSize: FastHistogram<never>;
  readonly routingSeconds: FastHistogram<never>;
  readonly ttft: FastHistogram<GenAiLabel>;
  readonly duration: FastHistogram<GenAiLabel | "error_type">;
  readonly tokens: FastHistogram<GenAiLabel | "gen_ai_token_type">;
  readonly tokensMissing: FastCounter<GenAiLabel>;
  readonly inFlight: Gauge<string>;
  readonly backendErrors: Counter<"kind">;
  private load: LoadSource | undefined;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new FastCounter({
      name: "herd_requests_total",
      help: "Chat and route requests, by route, served model, selected expert(s) and status code.",
      labelNames: ["route", "model", "expert", "status"],
      registers,
    });
    this.decisions = new FastCounter({
      name: "herd_routing_decisions_total",
      help: "Routing decisions, by selected expert(s) and reason (routed, forced, below-threshold, base-only, sticky, fallback).",
      labelNames: ["expert", "reason"],
      registers,
    });
    this.blendSize = new FastHistogram({
      name: "herd_blend_size",
      help: "Experts blended per request (0: the base model answered).",
      labelNames: [],
      buckets: [0, 1, 2, 3, 4, 6, 8],
      registers,
    });
    this.routingSeconds = new FastHistogram({
      name: "herd_routing_duration_seconds",
      help: "Time spent routing (embedding the prompt and querying the centroid index).",
      labelNames: [],
      buckets: ROUTING_BUCKETS,
      registers,
    });
    this.ttft = new FastHistogram({
      name: "gen_ai_server_time_to_first_token_seconds",
      help: "Time from the request entering Herd to the first token (text or tool call) of a successful answer.",
      labelNames: GEN_AI_LABELS,
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.duration = new FastHistogram({
      name: "gen_ai_server_request_duration_seconds",
      help: "Time from the request entering Herd to its end (error_type is set on failures).",
      labelNames: [...GEN_AI_LABELS, "error_type"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.tokens = new FastHistogram({
      name: "gen_ai_client_token_usage",
      help: "Tokens per request as the backend counted them, by type (input, output) and expert(s).",
      labelNames: [...GEN_AI_LABELS, "gen_ai_token_type"],
      buckets: TOKEN_BUCKETS,
      registers,
    });
    this.tokensMissing = new FastCounter({
      name: "herd_token_usage_missing_total",
      help: "Answers whose backend reported no token usage: they are not in gen_ai_client_token_usage (no count is guessed).",
      labelNames: GEN_AI_LABELS,
      registers,
    });
    this.inFlight = new Gauge({
      name: "herd_requests_in_flight",
      help: "Requests inside Herd now: routing, waiting for a generation slot or generating.",
      registers,
    });
    this.backendErrors = new Counter({
      name: "herd_backend_errors_total",
      help: "Chat backend failures, by kind (timeout, unavailable, rate_limited, model_not_found, backend_error), including ones a fallback recovered.",
      labelNames: ["kind"],
      registers,
    });
    const load = () => this.load?.();
    new Gauge({
      name: "herd_requests_queued",
      help: "Requests waiting for a generation slot on the backend.",
      registers,
      collect() {
        this.set(load()?.queued ?? 0);
      },
    });
    new Gauge({
      name: "herd_generations_running",
      help: "Generations running on the backend now.",
      registers,
      collect() {
        this.set(load()?.running ?? 0);
      },
    });
  }

  /** Where the queue and running gauges read from (the pipeline's concurrency limiter). */
  setLoadSource(source: LoadSource): void {
    this.load = source;
  }
}
