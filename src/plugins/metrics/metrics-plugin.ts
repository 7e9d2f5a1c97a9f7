import { collectDefaultMetrics, Registry } from "prom-client";
import type { ChatChunk } from "../../core/chat.js";
import { HerdError } from "../../core/errors.js";
import type { RequestContext } from "../../core/pipeline.js";
import type { Plugin, RequestOutcome } from "../../core/plugin.js";
import type { RoutingDecision } from "../../core/routing.js";
import { backendErrorKind } from "./backend-error-kind.js";
import { HerdMetrics, type LoadSource } from "./herd-metrics.js";
import { type RecentDecision, RecentDecisions } from "./recent-decisions.js";

/** Settings of the metrics plugin. */
export interface MetricsOptions {
  /** The prom-client registry to register on. @default a new registry of its own */
  registry?: Registry;
  /** Also export Node process metrics (CPU, memory, event loop lag, GC). @default true */
  processMetrics?: boolean;
  /** How many finished requests `recent()` keeps for the playground's live view. @default 50 */
  recent?: number;
}

/** What the plugin keeps per request in `ctx.state`. */
interface Timing {
  start: number;
  firstChunk: number;
}

const NAME = "metrics";
/** The `route` label of requests that did not come through the HTTP facade. */
const SDK_ROUTE = "sdk";

/**
 * Prometheus metrics of every request: counts by route, model, expert and status, routing
 * decisions by reason, blend size, routing latency, time to first token, duration, tokens, in-flight
 * requests and backend errors. `herd serve` exposes them at `GET /metrics`.
 *
 * @example
 * const herd = await createHerd({ plugins: ["expert-override", "metrics"] });
 * const metrics = herd.plugins.find((p) => p instanceof MetricsPlugin);
 * console.log(await metrics?.metrics());
 */
export class MetricsPlugin implements Plugin {
  readonly name = NAME;
  /** Runs first, so it sees every backend error before a fallback handles it. */
  readonly order = -1000;
  /** The registry holding Herd's metrics (add your own to it). */
  readonly registry: Registry;
  private readonly herd: HerdMetrics;
  private readonly recentDecisions: RecentDecisions;

  constructor(options: MetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    this.herd = new HerdMetrics(this.registry);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.recentDecisions = new RecentDecisions(options.recent ?? 50);
  }

  /** The content type of `metrics()`: Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in Prometheus text format, as `GET /metrics` answers. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The latest finished requests, newest first. */
  recent(): RecentDecision[] {
    return this.recentDecisions.list();
  }

  /** Where `herd_requests_queued` and `herd_generations_running` read from (e.g. `() => herd.load`). */
  setLoadSource(source: LoadSource): void {
    this.herd.setLoadSource(source);
  }

  /** Counts a routing-only request (`POST /v1/route`), which does not go through the pipeline. */
  observeRoute(route: string, decision: RoutingDecision): void {
    const expert = expertLabel(decision);
    const model = decision.model;
    const reason = decision.reason;
    this.herd.requests.inc(`${route}\u0001${model}\u0001${expert}\u0001200`, () => ({
      route,
      model,
      expert,
      status: "200",
    }));
    this.herd.decisions.inc(`${expert}\u0001${reason}`, () => ({ expert, reason }));
    this.herd.routingSeconds.observe("", noLabels, decision.timings.totalMs / 1000);
  }

  /** Counts a routing-only request whose routing failed (embedder or index down), by the error's status. */
  observeRouteFailure(route: string, error: unknown): void {
    const status = statusOf({ error });
    this.herd.requests.inc(`${route}\u0001none\u0001none\u0001${status}`, () => ({
      route,
      model: "none",
      expert: "none",
      status,
    }));
  }

  onRequest(ctx: RequestContext): void {
    const timing: Timing = { start: performance.now(), firstChunk: 0 };
    ctx.state.set(NAME, timing);
    this.herd.inFlight.inc();
  }

  onChunk(ctx: RequestContext, chunk: ChatChunk): undefined {
    // The first token: text or a tool call. A finish chunk carries none (an empty answer has no TTFT).
    if (chunk.type === "finish") return undefined;
    const timing = ctx.state.get(NAME) as Timing | undefined;
    if (timing !== undefined && timing.firstChunk === 0) timing.firstChunk = performance.now();
    return undefined;
  }

  onError(_ctx: RequestContext, error: unknown): undefined {
    const kind = backendErrorKind(error);
    if (kind) this.herd.backendErrors.inc({ kind });
    return undefined;
  }

  onEnd(ctx: RequestContext, outcome: RequestOutcome): void {
    const timing = ctx.state.get(NAME) as Timing | undefined;
    if (timing === undefined) return;
    this.herd.inFlight.dec();
    const end = performance.now();
    const decision = ctx.decision;
    const target = ctx.chatRequest?.target;
    const model = target?.model ?? "none";
    const expert = decision ? expertLabel(decision) : "none";
    const status = statusOf(outcome);
    const route = typeof ctx.request.metadata?.route === "string" ? ctx.request.metadata.route : SDK_ROUTE;
    const herd = this.herd;
    // Keys name the label combination; the label objects are built once per combination.
    herd.requests.inc(`${route}\u0001${model}\u0001${expert}\u0001${status}`, () => ({
      route,
      model,
      expert,
      status,
    }));

    let reason = "none";
    if (decision) {
      // The fallback plugin moved an expert request to the base model.
      reason = target?.base && decision.selected.length > 0 ? "fallback" : decision.reason;
      herd.decisions.inc(`${expert}\u0001${reason}`, () => ({ expert, reason }));
      herd.blendSize.observe("", noLabels, target?.base ? 0 : decision.selected.length);
      herd.routingSeconds.observe("", noLabels, decision.timings.totalMs / 1000);
    }

    const requested = requestedModel(ctx);
    const key = `${requested}\u0001${model}\u0001${expert}`;
    const genAi = () => ({
      gen_ai_operation_name: "chat",
      // Required by the GenAI conventions; "herd", as the tracing plugin's spans say.
      gen_ai_provider_name: "herd",
      gen_ai_request_model: requested,
      gen_ai_response_model: model,
      herd_expert: expert,
    });
    // OpenTelemetry's gen_ai.server.time_to_first_token counts successful responses only.
    if (timing.firstChunk > 0 && outcome.error === undefined && outcome.response !== undefined) {
      herd.ttft.observe(key, genAi, (timing.firstChunk - timing.start) / 1000);
    }
    const seconds = (end - timing.start) / 1000;
    if (outcome.error === undefined) {
      herd.duration.observe(key, genAi, seconds);
    } else {
      const errorType = errorTypeOf(outcome.error);
      herd.duration.observe(
        `${key}\u0001${errorType}`,
        () => ({ ...genAi(), error_type: errorType }),
        seconds,
      );
    }
    const usage = outcome.response?.usage;
    if (usage) {
      herd.tokens.observe(
        `${key}\u0001input`,
        () => ({ ...genAi(), gen_ai_token_type: "input" }),
        usage.inputTokens,
      );
      herd.tokens.observe(
        `${key}\u0001output`,
        () => ({ ...genAi(), gen_ai_token_type: "output" }),
        usage.outputTokens,
      );
    } else if (outcome.response) {
      // An answer without counts is counted here, so the token histogram's gap is visible.
      herd.tokensMissing.inc(key, genAi);
    }

    this.recentDecisions.add({
      at: Date.now(),
      requestId: ctx.id,
      model,
      reason,
      experts: target?.base
        ? []
        : (decision?.selected.map((e) => ({ name: e.name, weight: e.weight })) ?? []),
      status,
      durationMs: Math.round((end - timing.start) * 1000) / 1000,
      routingMs: decision?.timings.totalMs ?? 0,
    });
  }
}

const noLabels = () => ({});

/**
 * The selected experts in name order joined with `+` (a blend), or `none` when the base model
 * answers. Name order, not rank order: the same blend is one label, so callers asking for many
 * experts cannot grow the label set with every ranking of them.
 */
function expertLabel(decision: RoutingDecision): string {
  const selected = decision.selected;
  if (selected.length === 0) return "none";
  if (selected.length === 1) return selected[0]!.name;
  return selected
    .map((e) => e.name)
    .sort()
    .join("+");
}

function statusOf(outcome: RequestOutcome): string {
  if (outcome.error !== undefined) {
    return HerdError.isInstance(outcome.error) ? String(outcome.error.status) : "500";
  }
  return outcome.response ? "200" : "499";
}

function errorTypeOf(error: unknown): string {
  return HerdError.isInstance(error) ? error.code : "internal_error";
}

/**
 * The model the caller asked for, when it is one Herd serves (`herd`, `herd:<expert>`, an expert's
 * model, the base model); anything else is `other`, so a caller cannot blow up the label set.
 */
function requestedModel(ctx: RequestContext): string {
  const asked = ctx.request.model;
  if (asked === undefined) return "herd";
  if (asked === "herd" || asked === ctx.experts.baseModel) return asked;
  for (const expert of ctx.experts.experts) {
    if (asked === expert.model || asked === `herd:${expert.name}`) return asked;
  }
  return "other";
}
