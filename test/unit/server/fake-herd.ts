import type { ChatChunk } from "../../../src/core/chat.js";
import { AbortError } from "../../../src/core/errors.js";
import type { Expert } from "../../../src/core/expert.js";
import type { HerdRequest, HerdStream, StreamOptions } from "../../../src/core/pipeline.js";
import type { RouteInput, RouteOptions, RoutingDecision } from "../../../src/core/routing.js";
import type { ServedHerd } from "../../../src/server/served-herd.js";

const expert = (name: string): Expert => ({
  name,
  description: `${name} expert`,
  categories: [name],
  adapter: `${name}.gguf`,
  model: `herd-${name}`,
  examples: [],
});

/** A routing decision as the router would make it: `code` nearest, then `qa`. */
export function decisionFor(options: RouteOptions = {}): RoutingDecision {
  const ranked = [
    { name: "code", distance: 0.2, similarity: 0.8, weight: 1 },
    { name: "qa", distance: 0.5, similarity: 0.5, weight: 0 },
  ];
  if (options.baseOnly) {
    return {
      ranked: ranked.map((e) => ({ ...e, weight: 0 })),
      selected: [],
      model: "llama3.2",
      strategy: "centroid",
      weighting: "inverse-distance",
      reason: "base-only",
      embedder: "hashing-test",
      timings: { embedMs: 0, queryMs: 0, totalMs: 0 },
      warnings: [],
    };
  }
  const forced = options.experts?.[0];
  const pick = forced ?? "code";
  const selected = [{ ...(ranked.find((e) => e.name === pick) ?? ranked[0]!), weight: 1 }];
  return {
    ranked: ranked.map((e) => ({ ...e, weight: e.name === pick ? 1 : 0 })),
    selected,
    model: `herd-${pick}`,
    strategy: "centroid",
    weighting: "inverse-distance",
    reason: forced ? "forced" : "routed",
    embedder: "hashing-test",
    timings: { embedMs: 0.5, queryMs: 0.1, totalMs: 0.7 },
    warnings: [],
  };
}

/** What the fake answers: chunks, or an error thrown before or during the stream. */
export type Script = (request: HerdRequest) => {
  chunks: (ChatChunk | Error)[];
  /** Thrown by `stream()` itself (before the first byte). */
  error?: Error;
  /** Milliseconds to wait before each chunk. */
  delayMs?: number;
  warnings?: string[];
};

/** A Herd stand-in for the facade's unit tests: records requests and plays scripted chunks. */
export class FakeHerd implements ServedHerd {
  readonly experts = [expert("code"), expert("qa")];
  readonly baseModel = "llama3.2";
  readonly requests: HerdRequest[] = [];
  /** Signals of the requests, to check that disconnects abort them. */
  readonly signals: AbortSignal[] = [];
  healthError: Error | undefined;

  constructor(public script: Script = () => ({ chunks: textChunks(["Hello", " world"]) })) {}

  async stream(request: HerdRequest, options: StreamOptions = {}): Promise<HerdStream> {
    this.requests.push(request);
    if (options.signal) this.signals.push(options.signal);
    const plan = this.script(request);
    if (plan.error) throw plan.error;
    const routeOptions: RouteOptions = { ...request.route };
    if (request.expert) routeOptions.experts = [request.expert];
    const decision = decisionFor(routeOptions);
    const signal = options.signal;
    const warnings = [...(plan.warnings ?? [])];
    let cancelled = false;
    const stream: HerdStream = {
      requestId: `req-${this.requests.length}`,
      decision,
      target: { model: decision.model, adapters: [], base: decision.selected.length === 0 },
      warnings,
      cancel: () => {
        cancelled = true;
      },
      async collect() {
        let text = "";
        for await (const chunk of stream) if (chunk.type === "text") text += chunk.text;
        return {
          text,
          toolCalls: [],
          finishReason: "stop",
          model: decision.model,
          decision,
          warnings,
          durationMs: 0,
        };
      },
      async *[Symbol.asyncIterator]() {
        for (const chunk of plan.chunks) {
          if (plan.delayMs) await sleep(plan.delayMs, signal);
          if (cancelled || signal?.aborted) throw new AbortError();
          if (chunk instanceof Error) throw chunk;
          yield chunk;
        }
      },
    };
    return stream;
  }

  async route(_input: RouteInput, options: RouteOptions = {}): Promise<RoutingDecision> {
    return decisionFor(options);
  }

  async health(): Promise<unknown> {
    if (this.healthError) throw this.healthError;
    return { backend: "ok" };
  }
}

/** Text chunks then a `stop` finish with usage. */
export function textChunks(pieces: string[]): ChatChunk[] {
  return [
    ...pieces.map((text): ChatChunk => ({ type: "text", text })),
    { type: "finish", finishReason: "stop", usage: { inputTokens: 7, outputTokens: pieces.length } },
  ];
}

/** Waits `ms`, or less when `signal` aborts; leaves no listener on the signal either way. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A FakeHerd whose streams linger after their finish chunk until `open()`, as a backend reply does
 * until its end is read. `ends` records each stream's end: "ended" or "cancelled".
 */
export function lingeringHerd(script: Script): { herd: FakeHerd; ends: string[]; open: () => void } {
  let open = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const ends: string[] = [];
  class LingeringHerd extends FakeHerd {
    override async stream(request: HerdRequest, options?: StreamOptions): Promise<HerdStream> {
      const inner = await super.stream(request, options);
      let ended = false;
      const cancel = inner.cancel;
      // Like a PipelineStream, cancelling a stream that has ended does nothing.
      inner.cancel = () => {
        if (ended) return;
        ended = true;
        ends.push("cancelled");
        cancel();
      };
      const chunks = inner[Symbol.asyncIterator].bind(inner);
      inner[Symbol.asyncIterator] = async function* () {
        yield* { [Symbol.asyncIterator]: chunks };
        await gate;
        if (ended) return;
        ended = true;
        ends.push("ended");
      };
      return inner;
    }
  }
  return { herd: new LingeringHerd(script), ends, open };
}
