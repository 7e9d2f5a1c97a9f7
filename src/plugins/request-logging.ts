import { errorMessage, HerdError } from "../core/errors.js";
import type { HerdResponse, RequestContext } from "../core/pipeline.js";
import type { Plugin } from "../core/plugin.js";

/** One log record per finished (or failed) request. */
export interface RequestLogRecord {
  event: "response" | "error";
  requestId: string;
  conversationId?: string;
  /** The model that ran (or was about to run). */
  model?: string;
  experts: { name: string; weight: number }[];
  reason?: string;
  finishReason?: string;
  inputTokens?: number;
  outputTokens?: number;
  durationMs: number;
  routingMs?: number;
  warnings: string[];
  error?: { code: string; message: string };
  /** The last user message, only with `includePrompt`. */
  prompt?: string;
  /** The answer text, only with `includeResponse`. */
  response?: string;
}

/** Settings of the request-logging plugin. */
export interface RequestLoggingOptions {
  /** Log the last user message. Prompts may hold personal data: off unless you need it. @default false */
  includePrompt?: boolean;
  /** Log the answer text. @default false */
  includeResponse?: boolean;
  /** Where records go. @default one JSON line per record on stderr */
  log?: (record: RequestLogRecord) => void;
}

/**
 * Logs one record per request: id, chosen experts and weights, model, finish reason, token counts,
 * timings, warnings and errors. Prompt and answer text stay out unless enabled.
 *
 * @example
 * createHerd({ plugins: [{ name: "request-logging", options: { includePrompt: true } }] });
 */
export class RequestLoggingPlugin implements Plugin {
  readonly name = "request-logging";
  /** Runs last, so it sees what the other plugins decided. */
  readonly order = 100;
  private readonly options: RequestLoggingOptions;
  private readonly log: (record: RequestLogRecord) => void;

  constructor(options: RequestLoggingOptions = {}) {
    this.options = options;
    this.log = options.log ?? ((record) => process.stderr.write(`${JSON.stringify(record)}\n`));
  }

  onResponse(ctx: RequestContext, response: HerdResponse): void {
    this.log({
      ...this.base(ctx, "response"),
      model: response.model,
      finishReason: response.finishReason,
      inputTokens: response.usage?.inputTokens,
      outputTokens: response.usage?.outputTokens,
      ...(this.options.includeResponse ? { response: response.text } : {}),
    });
  }

  onError(ctx: RequestContext, error: unknown): undefined {
    this.log({
      ...this.base(ctx, "error"),
      error: {
        code: HerdError.isInstance(error) ? error.code : "internal_error",
        message: errorMessage(error),
      },
    });
    return undefined;
  }

  private base(ctx: RequestContext, event: RequestLogRecord["event"]): RequestLogRecord {
    const decision = ctx.decision;
    const record: RequestLogRecord = {
      event,
      requestId: ctx.id,
      model: ctx.chatRequest?.target.model ?? decision?.model,
      experts: decision?.selected.map((e) => ({ name: e.name, weight: e.weight })) ?? [],
      reason: decision?.reason,
      durationMs: Date.now() - ctx.startedAt,
      routingMs: decision?.timings.totalMs,
      warnings: [...ctx.warnings],
    };
    const conversationId = ctx.request.metadata?.conversationId;
    if (conversationId) record.conversationId = conversationId;
    if (this.options.includePrompt) {
      record.prompt = [...ctx.request.messages].reverse().find((m) => m.role === "user")?.content;
    }
    return record;
  }
}
