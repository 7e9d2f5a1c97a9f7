import type { ChatChunk } from "./chat.js";
import { HerdError, PluginError } from "./errors.js";
import type { HerdResponse, RequestContext } from "./pipeline.js";
import { type ErrorRecovery, orderPlugins, type Plugin, type RequestOutcome } from "./plugin.js";

/** Where non-fatal plugin failures are reported. */
export interface PluginLogger {
  warn(message: string): void;
}

type StageHook = "onRequest" | "afterRouting" | "beforeGeneration";

/**
 * Calls plugin hooks in order and turns their failures into `PluginError`s. A `HerdError` thrown on
 * purpose by a plugin (an `UnknownExpertError` from expert override, say) passes through unchanged;
 * anything else is wrapped so the caller learns which plugin and hook failed.
 */
export class PluginRunner {
  readonly plugins: readonly Plugin[];

  constructor(
    plugins: readonly Plugin[],
    private readonly logger: PluginLogger,
  ) {
    const seen = new Set<string>();
    for (const plugin of plugins) {
      if (seen.has(plugin.name)) {
        throw new PluginError(plugin.name, "setup", {
          cause: new Error(`two plugins are named "${plugin.name}"; each plugin may be added once`),
        });
      }
      seen.add(plugin.name);
    }
    this.plugins = orderPlugins(plugins);
  }

  /** Runs a stage hook of every plugin in order; the first failure fails the request. */
  async run(hook: StageHook, ctx: RequestContext): Promise<void> {
    for (const plugin of this.plugins) {
      const fn = plugin[hook];
      if (!fn) continue;
      try {
        await fn.call(plugin, ctx);
      } catch (error) {
        throw wrap(plugin, hook, error);
      }
    }
  }

  /** Passes a chunk through every `onChunk` hook. */
  chunk(ctx: RequestContext, chunk: ChatChunk): ChatChunk {
    let current = chunk;
    for (const plugin of this.plugins) {
      if (!plugin.onChunk) continue;
      try {
        current = plugin.onChunk(ctx, current) ?? current;
      } catch (error) {
        throw wrap(plugin, "onChunk", error);
      }
    }
    return current;
  }

  /** Runs `onResponse` hooks; a failure becomes a warning on the response, not an error. */
  async response(ctx: RequestContext, response: HerdResponse): Promise<void> {
    for (const plugin of this.plugins) {
      if (!plugin.onResponse) continue;
      try {
        await plugin.onResponse(ctx, response);
      } catch (error) {
        this.nonFatal(ctx, wrap(plugin, "onResponse", error));
      }
    }
  }

  /**
   * Runs `onError` hooks in order until one offers a recovery, and returns it: a recovered error is
   * handled, so later hooks (e.g. request logging) do not report it as a failure. Hook failures
   * become warnings.
   */
  async error(ctx: RequestContext, error: unknown): Promise<ErrorRecovery | undefined> {
    for (const plugin of this.plugins) {
      if (!plugin.onError) continue;
      try {
        const offered = await plugin.onError(ctx, error);
        if (offered) return offered;
      } catch (hookError) {
        this.nonFatal(ctx, wrap(plugin, "onError", hookError));
      }
    }
    return undefined;
  }

  /** Runs `onEnd` hooks once the request settled; failures are logged, never thrown. */
  end(ctx: RequestContext, outcome: RequestOutcome): void {
    for (const plugin of this.plugins) {
      if (!plugin.onEnd) continue;
      try {
        plugin.onEnd(ctx, outcome);
      } catch (error) {
        this.logger.warn(wrap(plugin, "onEnd", error).message);
      }
    }
  }

  /** Closes every plugin; failures are logged, never thrown. */
  async close(): Promise<void> {
    for (const plugin of this.plugins) {
      try {
        await plugin.close?.();
      } catch (error) {
        this.logger.warn(wrap(plugin, "close", error).message);
      }
    }
  }

  private nonFatal(ctx: RequestContext, error: HerdError): void {
    ctx.warnings.push(error.message);
    this.logger.warn(error.message);
  }
}

function wrap(plugin: Plugin, hook: string, error: unknown): HerdError {
  if (HerdError.isInstance(error)) return error;
  return new PluginError(plugin.name, hook, { cause: error });
}
