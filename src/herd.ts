import type { RunnableLike } from "@langchain/core/runnables";
import { type Container, inject, injectable } from "inversify";
import {
  type CreateContainerOptions,
  createContainer,
  resolveExperts,
} from "./container/create-container.js";
import type { CentroidIndex } from "./core/centroid-index.js";
import type { BlendResolver, ChatProvider } from "./core/chat.js";
import { HerdChatModel, type HerdChatModelInput } from "./core/chat-model.js";
import type { HerdConfig, HerdConfigInput } from "./core/config.js";
import type { Embedder } from "./core/embedder.js";
import { ConfigError } from "./core/errors.js";
import type { Expert, ExpertSet } from "./core/expert.js";
import { applyExpertSet, type ExpertChangeTarget, type ExpertSetChange } from "./core/expert-reload.js";
import {
  type HerdRequest,
  type HerdResponse,
  type HerdStream,
  Pipeline,
  type RequestPipeline,
  type StreamOptions,
} from "./core/pipeline.js";
import type { Plugin } from "./core/plugin.js";
import { HerdRouterRunnable, type HerdRouterRunnableInput } from "./core/router-runnable.js";
import type { RouteInput, RouteOptions, RouterService, RoutingDecision } from "./core/routing.js";
import { TOKENS } from "./core/tokens.js";

/** What `Herd.reloadExperts` changed, and the notes of the chat backend (experts it could not check). */
export interface ExpertReloadResult extends ExpertSetChange {
  warnings: string[];
}

/** What `Herd.health()` reports when every part answers. */
export interface HerdHealth {
  provider: string;
  index: string;
  embedder: string;
  experts: number;
  baseModel: string;
}

/** A router that can build its centroids ahead of the first request (the built-in `Router` can). */
interface Preparable {
  prepare(): Promise<void>;
}

/** A router that knows the current expert set (the built-in `Router` does; it may change at run time). */
interface ExpertAware {
  readonly experts: ExpertSet;
}

/**
 * One served expert set: the router, the chat backend and the plugins, wired by the container.
 * Get one from `createHerd(config)`; the Express facade, the CLI and `HerdChatModel` all use it.
 *
 * @example
 * const herd = await createHerd({ expertsDir: "experts", provider: { name: "ollama" } });
 * const decision = await herd.route("Prove that there are infinitely many primes");
 * const model = herd.chatModel({ temperature: 0.2 }); // a LangChain chat model
 * await herd.close();
 */
@injectable()
export class Herd implements RequestPipeline {
  /** The request path (plugins, routing, blend resolution, generation). */
  readonly pipeline: Pipeline;
  /** The reload running now: the next one starts after it. */
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(
    @inject(TOKENS.Config) readonly config: HerdConfig,
    @inject(TOKENS.ExpertSet) private readonly initialExperts: ExpertSet,
    @inject(TOKENS.Router) readonly router: RouterService,
    @inject(TOKENS.Embedder) readonly embedder: Embedder,
    @inject(TOKENS.CentroidIndex) readonly index: CentroidIndex,
    @inject(TOKENS.ChatProvider) readonly provider: ChatProvider,
    @inject(TOKENS.BlendResolver) readonly resolver: BlendResolver,
    @inject(TOKENS.Plugins) plugins: Plugin[],
  ) {
    this.pipeline = new Pipeline({
      router,
      resolver,
      provider,
      experts: () => this.expertSet,
      plugins,
      concurrency: config.concurrency.generation,
      queue: config.concurrency.queue,
    });
  }

  /**
   * Resolves a Herd from a container built by `createContainer` (after any rebinding) and, unless
   * `prepare` is false, builds the centroids so configuration errors surface now.
   */
  static async fromContainer(container: Container, options: { prepare?: boolean } = {}): Promise<Herd> {
    if (!container.isBound(Herd)) container.bind(Herd).toSelf().inSingletonScope();
    const herd = container.get(Herd);
    if (options.prepare ?? true) await herd.prepare();
    return herd;
  }

  /** The expert set served now (the router's, when experts are added at run time). */
  get expertSet(): ExpertSet {
    const routerExperts = (this.router as Partial<ExpertAware>).experts;
    return routerExperts && Array.isArray(routerExperts.experts) ? routerExperts : this.initialExperts;
  }

  /** The experts served now. */
  get experts(): readonly Expert[] {
    return this.expertSet.experts;
  }

  /** The base model every expert shares; it answers when no expert applies. */
  get baseModel(): string {
    return this.expertSet.baseModel;
  }

  /** The plugins, in the order their hooks run. */
  get plugins(): readonly Plugin[] {
    return this.pipeline.pluginList;
  }

  /** Generations running on the backend and requests waiting for a slot, right now. */
  get load(): { running: number; queued: number } {
    return this.pipeline.load;
  }

  /**
   * Builds the centroids now (the router would on its first request) and lets the chat provider check
   * what its backend serves, so startup errors surface early.
   */
  async prepare(): Promise<void> {
    const router = this.router as Partial<Preparable>;
    await Promise.all([
      typeof router.prepare === "function" ? router.prepare() : undefined,
      (async () => {
        await this.provider.prepare?.();
        await this.resolver.prepare?.(this.provider);
      })(),
    ]);
  }

  /** The routing decision alone: no plugins, no generation (e.g. to route inside your own app). */
  route(input: RouteInput, options?: RouteOptions): Promise<RoutingDecision> {
    return this.router.route(input, options);
  }

  /** Routes and starts generating; see `Pipeline.stream`. */
  stream(request: HerdRequest, options?: StreamOptions): Promise<HerdStream> {
    return this.pipeline.stream(request, options);
  }

  /** Routes, generates and returns the whole answer. */
  generate(request: HerdRequest, options?: StreamOptions): Promise<HerdResponse> {
    return this.pipeline.generate(request, options);
  }

  /**
   * A LangChain Runnable that routes its input with this Herd and runs the chosen expert's runnable.
   * @example herd.routeTo({ code: codeChain, creative: storyChain, default: generalChain })
   */
  routeTo<RunInput = unknown, RunOutput = unknown>(
    routes: Record<string, RunnableLike<RunInput, RunOutput>>,
    options: Omit<HerdRouterRunnableInput<RunInput, RunOutput>, "router" | "routes"> = {},
  ): HerdRouterRunnable<RunInput, RunOutput> {
    return new HerdRouterRunnable({ ...options, router: this, routes });
  }

  /** A LangChain chat model on this Herd. */
  chatModel(options: Omit<HerdChatModelInput, "herd"> = {}): HerdChatModel {
    return new HerdChatModel({ ...options, herd: this });
  }

  /**
   * Re-reads experts.json (the config's `expertsDir`) and applies it to the running router and chat
   * backend: new and changed experts are added with their centroids, removed ones leave. `herd serve`
   * exposes it as `POST /admin/experts/reload`. First the chat provider checks that its backend serves
   * every new or changed expert (an engine re-reads its adapters and loads what it can, see
   * `ChatProvider.reloadExperts`); when the backend answers that it cannot, nothing changes and
   * ExpertsNotServedError names the fix. Requests already running finish as they started; reloads run
   * one at a time.
   * @returns what changed, and warnings (e.g. a backend that could not be reached to check)
   * @throws ConfigError when the experts are inline in the config or the router cannot change them
   * @throws ExpertsNotServedError when the backend cannot serve a new or changed expert
   */
  reloadExperts(): Promise<ExpertReloadResult> {
    const run = this.reloading.then(() => this.applyReload());
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async applyReload(): Promise<ExpertReloadResult> {
    if (this.config.experts !== undefined) {
      throw new ConfigError(
        "The experts are inline in the config: there is no experts.json to reload.",
        "experts",
      );
    }
    const router = this.router as Partial<ExpertChangeTarget>;
    if (typeof router.addExpert !== "function" || typeof router.removeExpert !== "function") {
      throw new ConfigError("This Herd's router cannot change its experts at run time.", "router");
    }
    const next = await resolveExperts(this.config);
    // The provider serves old and new experts from here on, so the router may switch in any order.
    const staged = await this.provider.reloadExperts?.({ current: this.expertSet, next });
    const warnings = [...(staged?.warnings ?? [])];
    let change: ExpertSetChange;
    try {
      // Blend variants of new experts (built models, loaded adapters) before the router picks them.
      await this.resolver.prepare?.(this.provider).catch((error: unknown) => {
        warnings.push(`Could not re-read the blend variants: ${(error as Error).message}`);
      });
      change = await applyExpertSet(router as ExpertChangeTarget, next);
    } finally {
      staged?.commit(this.expertSet);
    }
    return { ...change, warnings };
  }

  /** Checks the chat backend and the centroid index; throws the first failure (e.g. ProviderUnavailableError). */
  async health(): Promise<HerdHealth> {
    await Promise.all([this.provider.health(), this.index.health()]);
    return {
      provider: this.provider.name,
      index: this.index.kind,
      embedder: this.embedder.id,
      experts: this.experts.length,
      baseModel: this.baseModel,
    };
  }

  /** Closes plugins, the chat backend, the index and the embedder. Safe to call twice. */
  async close(): Promise<void> {
    await this.pipeline.close();
    const closeable = [this.provider, this.index, this.embedder] as { close?: () => Promise<void> }[];
    await Promise.allSettled(closeable.map((part) => part.close?.()));
  }
}

/** Settings of `createHerd`. */
export interface CreateHerdOptions extends CreateContainerOptions {
  /**
   * Changes bindings before the Herd is built: swap any implementation without touching Herd.
   * @example (container) => container.rebind(TOKENS.ChatProvider).toConstantValue(new MyProvider())
   */
  configure?: (container: Container) => void;
  /** Build the centroids before returning, so errors surface at startup. @default true */
  prepare?: boolean;
}

/**
 * Builds a ready Herd from a config object or a JSON config file path: validates the config
 * (`ConfigError` names the bad field), loads the experts, wires the container and prepares the router.
 *
 * @example
 * const herd = await createHerd("herd.json");
 * const herd2 = await createHerd({ expertsDir: "experts", router: { topExperts: 2 }, plugins: ["expert-override", "fallback"] });
 */
export async function createHerd(
  config: HerdConfigInput | string = {},
  options: CreateHerdOptions = {},
): Promise<Herd> {
  const container = await createContainer(config, options);
  options.configure?.(container);
  return Herd.fromContainer(container, { prepare: options.prepare });
}
