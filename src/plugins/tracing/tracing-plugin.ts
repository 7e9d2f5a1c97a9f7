import type { Span, Tracer } from "@opentelemetry/api";
import { errorMessage, HerdError } from "../../core/errors.js";
import type { RequestContext } from "../../core/pipeline.js";
import type { Plugin, RequestOutcome } from "../../core/plugin.js";

/** The part of `@opentelemetry/api` the plugin uses (the package stays an optional peer dependency). */
type OtelApi = typeof import("@opentelemetry/api");

/** Settings of the tracing plugin. */
export interface TracingOptions {
  /** The instrumentation scope name of the tracer. @default "herd" */
  tracerName?: string;
  /** Loads the OpenTelemetry API. @default a dynamic import of `@opentelemetry/api` */
  load?: () => Promise<OtelApi>;
}

/** What the plugin keeps per traced request in `ctx.state`. */
interface Traced {
  api: OtelApi;
  tracer: Tracer;
  span: Span;
}

const NAME = "tracing";

/**
 * OpenTelemetry traces of every request, when `@opentelemetry/api` is installed and a tracer
 * provider is registered (an OpenTelemetry SDK set up by the app, or `node --import` a setup file
 * for `herd serve`); otherwise it does nothing. One span per request (`chat <model>`, GenAI
 * semantic-convention attributes: `gen_ai.request.model`, `gen_ai.response.model`,
 * `gen_ai.usage.input_tokens`/`output_tokens`, finish reasons, `error.type`), with routing as a child
 * span (`herd.route`) carrying the experts, their weights and distances, the reason and the timings.
 *
 * @example
 * // after your OpenTelemetry SDK has registered a tracer provider:
 * const herd = await createHerd({ plugins: ["expert-override", "tracing"] });
 */
export class TracingPlugin implements Plugin {
  readonly name = NAME;
  /** Runs early: its span covers what the other plugins do. */
  readonly order = -900;
  private api: OtelApi | null | undefined;
  private tracer: Tracer | undefined;
  private readonly loading: Promise<void>;
  private readonly tracerName: string;

  constructor(options: TracingOptions = {}) {
    this.tracerName = options.tracerName ?? "herd";
    const load = options.load ?? (() => import("@opentelemetry/api"));
    // Not installed: tracing stays off, quietly (it is optional).
    this.loading = load().then(
      (api) => {
        this.api = api;
      },
      () => {
        this.api = null;
      },
    );
  }

  onRequest(ctx: RequestContext): void | Promise<void> {
    // Only the first requests wait for the import; after it, tracing costs no extra await.
    if (this.api === undefined) return this.loading.then(() => this.start(ctx));
    this.start(ctx);
  }

  private start(ctx: RequestContext): void {
    const api = this.api;
    if (!api) return;
    // A proxy tracer: it follows whatever provider is registered now, or later.
    this.tracer ??= api.trace.getTracer(this.tracerName);
    const requested = ctx.request.model ?? "herd";
    const span = this.tracer.startSpan(
      `chat ${requested}`,
      { kind: api.SpanKind.CLIENT },
      api.context.active(),
    );
    // No provider registered: the span records nothing, so neither does the rest of this plugin.
    if (!span.isRecording()) return;
    const params = ctx.request.params ?? {};
    span.setAttributes({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "herd",
      "gen_ai.request.model": requested,
      "herd.request.id": ctx.id,
    });
    if (params.maxTokens !== undefined) span.setAttribute("gen_ai.request.max_tokens", params.maxTokens);
    if (params.temperature !== undefined) span.setAttribute("gen_ai.request.temperature", params.temperature);
    if (params.topP !== undefined) span.setAttribute("gen_ai.request.top_p", params.topP);
    ctx.state.set(NAME, { api, tracer: this.tracer, span } satisfies Traced);
  }

  afterRouting(ctx: RequestContext): void {
    const traced = ctx.state.get(NAME) as Traced | undefined;
    const decision = ctx.decision;
    if (!traced || !decision) return;
    const { api, tracer, span } = traced;
    const end = Date.now();
    const parent = api.trace.setSpan(api.context.active(), span);
    const routing = tracer.startSpan(
      "herd.route",
      {
        startTime: end - decision.timings.totalMs,
        attributes: {
          "herd.routing.reason": decision.reason,
          "herd.routing.strategy": decision.strategy,
          "herd.routing.weighting": decision.weighting,
          "herd.routing.embedder": decision.embedder,
          "herd.routing.model": decision.model,
          "herd.experts": decision.selected.map((e) => e.name),
          "herd.expert_weights": decision.selected.map((e) => e.weight),
          "herd.ranked_experts": decision.ranked.map((e) => e.name),
          "herd.ranked_distances": decision.ranked.map((e) => e.distance),
          "herd.routing.embed_ms": decision.timings.embedMs,
          "herd.routing.query_ms": decision.timings.queryMs,
        },
      },
      parent,
    );
    routing.end(end);
    span.setAttributes({
      "herd.experts": decision.selected.map((e) => e.name),
      "herd.expert_weights": decision.selected.map((e) => e.weight),
      "herd.routing.reason": decision.reason,
    });
  }

  onEnd(ctx: RequestContext, outcome: RequestOutcome): void {
    const traced = ctx.state.get(NAME) as Traced | undefined;
    if (!traced) return;
    const { api, span } = traced;
    const target = ctx.chatRequest?.target;
    if (target) {
      span.setAttribute("gen_ai.response.model", target.model);
      span.setAttribute("herd.base", target.base);
      if (target.adapters.length > 0) {
        span.setAttribute(
          "herd.adapters",
          target.adapters.map((a) => a.expert),
        );
        span.setAttribute(
          "herd.adapter_scales",
          target.adapters.map((a) => a.scale),
        );
      }
    }
    const response = outcome.response;
    if (response) {
      span.setAttribute("gen_ai.response.id", ctx.id);
      span.setAttribute("gen_ai.response.finish_reasons", [response.finishReason]);
      if (response.usage) {
        span.setAttribute("gen_ai.usage.input_tokens", response.usage.inputTokens);
        span.setAttribute("gen_ai.usage.output_tokens", response.usage.outputTokens);
      }
    } else if (outcome.error !== undefined) {
      span.setAttribute(
        "error.type",
        HerdError.isInstance(outcome.error) ? outcome.error.code : "internal_error",
      );
      span.recordException(outcome.error instanceof Error ? outcome.error : String(outcome.error));
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: errorMessage(outcome.error) });
    } else {
      span.setAttribute("herd.cancelled", true);
    }
    if (ctx.warnings.length > 0) span.setAttribute("herd.warnings", [...ctx.warnings]);
    span.end();
  }
}
