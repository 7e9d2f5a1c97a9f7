import { join } from "node:path";
import { ContainerModule } from "inversify";
import type { CentroidIndex } from "../core/centroid-index.js";
import type { ChatProvider } from "../core/chat.js";
import type { HerdConfig } from "../core/config.js";
import type { Embedder } from "../core/embedder.js";
import type { ExpertSet } from "../core/expert.js";
import type { Plugin } from "../core/plugin.js";
import { Router } from "../core/router.js";
import { TOKENS } from "../core/tokens.js";
import type { FactoryContext, HerdRegistries } from "./registries.js";

function settingsOf(component: { name: string }): Record<string, unknown> {
  const { name: _name, ...rest } = component;
  return rest;
}

/** The config and the expert set, as constants. */
export function configModule(config: HerdConfig, experts: ExpertSet): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(TOKENS.Config).toConstantValue(config);
    bind(TOKENS.ExpertSet).toConstantValue(experts);
  });
}

function context(get: <T>(token: symbol) => T): FactoryContext {
  return { config: get<HerdConfig>(TOKENS.Config), experts: get<ExpertSet>(TOKENS.ExpertSet) };
}

/** The embedder named by `config.embedder.name`. */
export function embeddersModule(registries: HerdRegistries, config: HerdConfig): ContainerModule {
  const factory = registries.embedders.get(config.embedder.name);
  return new ContainerModule(({ bind }) => {
    bind(TOKENS.Embedder)
      .toDynamicValue((ctx) =>
        factory(
          settingsOf(config.embedder),
          context((t) => ctx.get(t)),
        ),
      )
      .inSingletonScope();
  });
}

/** The centroid index named by `config.index.name`. */
export function indexesModule(registries: HerdRegistries, config: HerdConfig): ContainerModule {
  const factory = registries.indexes.get(config.index.name);
  return new ContainerModule(({ bind }) => {
    bind(TOKENS.CentroidIndex)
      .toDynamicValue((ctx) =>
        factory(
          settingsOf(config.index),
          context((t) => ctx.get(t)),
        ),
      )
      .inSingletonScope();
  });
}

/** The chat provider named by `config.provider.name`, and the blend resolver that suits it. */
export function chatProvidersModule(registries: HerdRegistries, config: HerdConfig): ContainerModule {
  const provider = registries.chatProviders.get(config.provider.name);
  const resolver = registries.blendResolvers.get(config.blend.name);
  return new ContainerModule(({ bind }) => {
    bind(TOKENS.ChatProvider)
      .toDynamicValue((ctx) =>
        provider(
          settingsOf(config.provider),
          context((t) => ctx.get(t)),
        ),
      )
      .inSingletonScope();
    bind(TOKENS.BlendResolver)
      .toDynamicValue((ctx) =>
        resolver(settingsOf(config.blend), {
          ...context((t) => ctx.get(t)),
          capabilities: ctx.get<ChatProvider>(TOKENS.ChatProvider).capabilities,
        }),
      )
      .inSingletonScope();
  });
}

/** The router over the bound expert set, embedder and index, with the config's router settings. */
export function routerModule(config: HerdConfig): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(TOKENS.Router)
      .toDynamicValue(
        (ctx) =>
          new Router({
            experts: ctx.get<ExpertSet>(TOKENS.ExpertSet),
            embedder: ctx.get<Embedder>(TOKENS.Embedder),
            index: ctx.get<CentroidIndex>(TOKENS.CentroidIndex),
            options: config.router,
            // Stored next to experts.json; an inline expert set has no folder of its own, so none by default.
            centroidsDir:
              config.centroidsDir ??
              (config.experts === undefined ? join(config.expertsDir, "centroids") : undefined),
            build: config.centroids,
          }),
      )
      .inSingletonScope();
  });
}

/** The plugins listed in `config.plugins`, built from their options, in config order. */
export function pluginsModule(registries: HerdRegistries, config: HerdConfig): ContainerModule {
  const factories = config.plugins.map((entry) => ({ entry, factory: registries.plugins.get(entry.name) }));
  return new ContainerModule(({ bind }) => {
    bind(TOKENS.Plugins)
      .toDynamicValue((): Plugin[] => factories.map(({ entry, factory }) => factory(entry.options)))
      .inSingletonScope();
  });
}
