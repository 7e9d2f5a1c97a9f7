import type { CentroidIndex } from "./centroid-index.js";
import type { BlendResolver, ChatProvider } from "./chat.js";
import type { HerdConfig } from "./config.js";
import type { Embedder } from "./embedder.js";
import type { ExpertSet } from "./expert.js";
import type { Plugin } from "./plugin.js";
import type { RouterService } from "./routing.js";

/**
 * A service identifier that remembers the type it stands for, so `container.get(TOKENS.Embedder)`
 * is typed without a cast. At run time it is just the `Symbol.for("herd.X")` symbol.
 */
export type Token<T> = symbol & { readonly __type?: T };

function token<T>(name: string): Token<T> {
  return Symbol.for(`herd.${name}`) as Token<T>;
}

/**
 * The service identifiers of the composition root. Rebind any of them to swap an implementation:
 *
 * @example
 * const container = createContainer(config);
 * container.rebind(TOKENS.ChatProvider).toConstantValue(new MyProvider());
 * const herd = await Herd.fromContainer(container);
 */
export const TOKENS = {
  /** The validated Herd config. */
  Config: token<HerdConfig>("Config"),
  ExpertSet: token<ExpertSet>("ExpertSet"),
  Embedder: token<Embedder>("Embedder"),
  CentroidIndex: token<CentroidIndex>("CentroidIndex"),
  ChatProvider: token<ChatProvider>("ChatProvider"),
  BlendResolver: token<BlendResolver>("BlendResolver"),
  Router: token<RouterService>("Router"),
  /** The plugins in config order (the pipeline sorts them by `order`). */
  Plugins: token<Plugin[]>("Plugins"),
} as const;
