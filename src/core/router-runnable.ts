import type { CallbackManagerForChainRun } from "@langchain/core/callbacks/manager";
import { type BaseMessage, isBaseMessage } from "@langchain/core/messages";
import {
  _coerceToRunnable,
  ensureConfig,
  getCallbackManagerForConfig,
  patchConfig,
  Runnable,
  type RunnableConfig,
  type RunnableLike,
} from "@langchain/core/runnables";
import { concat } from "@langchain/core/utils/stream";
import { ConfigError, InvalidInputError } from "./errors.js";
import type { RouteInput, RouteOptions, RouterService, RoutingDecision } from "./routing.js";

/** The route taken when the chosen expert has no runnable, or no expert applies. */
export const DEFAULT_ROUTE = "default";

/** The routing decision as it appears in the run's metadata (`metadata.herd_route`). */
export interface HerdRouteMetadata {
  /** The runnable that ran: an expert's name, or `default`. */
  route: string;
  /** The expert Herd chose, if any (it may have no runnable of its own). */
  expert: string | undefined;
  reason: RoutingDecision["reason"];
  experts: { name: string; weight: number; similarity: number }[];
  ranked: { name: string; distance: number }[];
  embedder: string;
}

/** Settings of {@link HerdRouterRunnable}. */
export interface HerdRouterRunnableInput<RunInput, RunOutput> {
  /** What routes: a Herd (`createHerd`) or a Router. */
  router: RouterService;
  /** One runnable per expert name, plus `default` for prompts no listed expert takes. */
  routes: Record<string, RunnableLike<RunInput, RunOutput>>;
  /**
   * The text (or chat) to route by. By default: a string as is; messages or a prompt value by
   * their chat; an object by its `input`, `question`, `query` or `text` string field.
   */
  routingText?: (input: RunInput) => RouteInput;
  /** Routing options (e.g. `threshold`) for every call. */
  routeOptions?: Omit<RouteOptions, "signal">;
}

const TEXT_FIELDS = ["input", "question", "query", "text"] as const;

/** The default {@link HerdRouterRunnableInput.routingText}. */
export function defaultRoutingText(input: unknown): RouteInput {
  if (typeof input === "string") return input;
  if (isPromptValue(input)) return messagesOf(input.toChatMessages());
  if (Array.isArray(input) && input.every(isBaseMessage)) return messagesOf(input);
  if (typeof input === "object" && input !== null) {
    for (const key of TEXT_FIELDS) {
      if (Object.hasOwn(input, key) && typeof (input as Record<string, unknown>)[key] === "string") {
        return (input as Record<string, string>)[key]!;
      }
    }
  }
  throw new InvalidInputError(
    `HerdRouterRunnable cannot find the text to route in this input: pass a string, messages, an object with one of ${TEXT_FIELDS.join(", ")}, or give routingText.`,
    "input",
  );
}

function isPromptValue(input: unknown): input is { toChatMessages(): BaseMessage[] } {
  return (
    typeof input === "object" &&
    input !== null &&
    typeof (input as { toChatMessages?: unknown }).toChatMessages === "function"
  );
}

function messagesOf(messages: readonly { getType(): string; text: string }[]): RouteInput {
  const role = (type: string) => (type === "human" ? "user" : type === "ai" ? "assistant" : type);
  return messages.map((m) => ({ role: role(m.getType()), content: m.text }));
}

/**
 * A LangChain Runnable that routes its input with Herd and runs the runnable of the chosen
 * expert (or `default`), streaming its output through. The routing decision is in the run's
 * metadata (`herd_route`, see {@link HerdRouteMetadata}), so tracers and `streamEvents` show it.
 *
 * @example
 * const herd = await createHerd({ expertsDir: "experts" });
 * const chain = new HerdRouterRunnable({ router: herd, routes: { code: codeChain, default: generalChain } });
 * await chain.invoke({ question: "Write a Python function that reverses a string" }); // runs codeChain
 */
export class HerdRouterRunnable<RunInput = unknown, RunOutput = unknown> extends Runnable<
  RunInput,
  RunOutput
> {
  override lc_namespace = ["herd", "runnables"];
  private readonly router: RouterService;
  private readonly routes: Map<string, Runnable<RunInput, RunOutput>>;
  private readonly routingText: (input: RunInput) => RouteInput;
  private readonly routeOptions: Omit<RouteOptions, "signal">;

  static override lc_name(): string {
    return "HerdRouterRunnable";
  }

  constructor(fields: HerdRouterRunnableInput<RunInput, RunOutput>) {
    super(fields);
    const names = Object.keys(fields.routes ?? {});
    if (names.length === 0) {
      throw new ConfigError(
        "HerdRouterRunnable needs at least one route: { code: chainA, default: chainB }.",
        "routes",
      );
    }
    this.router = fields.router;
    this.routes = new Map(names.map((name) => [name, _coerceToRunnable(fields.routes[name]!)]));
    this.routingText = fields.routingText ?? defaultRoutingText;
    this.routeOptions = fields.routeOptions ?? {};
  }

  /** Routes the input and picks the runnable: the chosen expert's, else `default`. */
  async choose(
    input: RunInput,
    signal?: AbortSignal,
  ): Promise<{ runnable: Runnable<RunInput, RunOutput>; metadata: HerdRouteMetadata }> {
    const decision = await this.router.route(this.routingText(input), { ...this.routeOptions, signal });
    const expert = decision.selected[0]?.name;
    const route = expert !== undefined && this.routes.has(expert) ? expert : DEFAULT_ROUTE;
    const runnable = this.routes.get(route);
    if (!runnable) {
      throw new InvalidInputError(
        `Herd routed to ${expert === undefined ? `no expert (${decision.reason})` : `"${expert}"`}, which has no runnable, and there is no "${DEFAULT_ROUTE}" route. Routes: ${[...this.routes.keys()].join(", ")}.`,
        "routes",
      );
    }
    return {
      runnable,
      metadata: {
        route,
        expert,
        reason: decision.reason,
        experts: decision.selected.map((e) => ({ name: e.name, weight: e.weight, similarity: e.similarity })),
        ranked: decision.ranked.map((e) => ({ name: e.name, distance: e.distance })),
        embedder: decision.embedder,
      },
    };
  }

  override async invoke(input: RunInput, options?: Partial<RunnableConfig>): Promise<RunOutput> {
    const config = ensureConfig(options);
    const { runnable, metadata } = await this.choose(input, config.signal);
    return this._callWithConfig(
      (value: RunInput, cfg?: Partial<RunnableConfig>, runManager?: CallbackManagerForChainRun) =>
        runnable.invoke(
          value,
          patchConfig(cfg, { callbacks: runManager?.getChild(`route:${metadata.route}`) }),
        ),
      input,
      withRoute(config, metadata),
    );
  }

  override async *_streamIterator(
    input: RunInput,
    options?: Partial<RunnableConfig>,
  ): AsyncGenerator<RunOutput> {
    const config = ensureConfig(options);
    const { runnable, metadata } = await this.choose(input, config.signal);
    const routed = withRoute(config, metadata);
    const callbacks = await getCallbackManagerForConfig(routed);
    const runManager = await callbacks?.handleChainStart(
      this.toJSON(),
      typeof input === "object" && input !== null && !Array.isArray(input)
        ? (input as Record<string, unknown>)
        : { input },
      routed.runId,
      undefined,
      undefined,
      undefined,
      routed.runName ?? this.getName(),
    );
    delete routed.runId;
    let output: RunOutput | undefined;
    let concatenable = true;
    try {
      const stream = await runnable.stream(
        input,
        patchConfig(routed, { callbacks: runManager?.getChild(`route:${metadata.route}`) }),
      );
      for await (const chunk of stream) {
        yield chunk;
        if (!concatenable) continue;
        try {
          output = output === undefined ? chunk : (concat(output as never, chunk as never) as RunOutput);
        } catch {
          output = undefined;
          concatenable = false;
        }
      }
    } catch (error) {
      await runManager?.handleChainError(error);
      throw error;
    }
    await runManager?.handleChainEnd(
      typeof output === "object" && output !== null && !Array.isArray(output)
        ? (output as Record<string, unknown>)
        : { output },
    );
  }
}

function withRoute(config: RunnableConfig, metadata: HerdRouteMetadata): RunnableConfig {
  return { ...config, metadata: { ...config.metadata, herd_route: metadata } };
}

/**
 * A {@link HerdRouterRunnable} over `routes`: `routeTo(herd, { code: chainA, creative: chainB, default: chainC })`.
 */
export function routeTo<RunInput = unknown, RunOutput = unknown>(
  router: RouterService,
  routes: Record<string, RunnableLike<RunInput, RunOutput>>,
  options: Omit<HerdRouterRunnableInput<RunInput, RunOutput>, "router" | "routes"> = {},
): HerdRouterRunnable<RunInput, RunOutput> {
  return new HerdRouterRunnable({ ...options, router, routes });
}
