import { Container } from "inversify";
import { type HerdConfig, type HerdConfigInput, loadConfigFile, parseConfig } from "../core/config.js";
import type { ExpertSet } from "../core/expert.js";
import { loadExpertSet, parseExpertSet } from "../core/experts.js";
import {
  chatProvidersModule,
  configModule,
  embeddersModule,
  indexesModule,
  pluginsModule,
  routerModule,
} from "./modules.js";
import { defaultRegistries, type HerdRegistries } from "./registries.js";

/** Settings of `createContainer` and `createHerd`. */
export interface CreateContainerOptions {
  /** The implementations a config can name. @default defaultRegistries() */
  registries?: HerdRegistries;
}

/** Validates a config object, or reads and validates a JSON config file (given its path). */
export async function resolveConfig(config: HerdConfigInput | HerdConfig | string = {}): Promise<HerdConfig> {
  return typeof config === "string" ? loadConfigFile(config) : parseConfig(config);
}

/** The expert set a config names: inline `experts`, or `expertsDir/experts.json`; `baseModel` overrides. */
export async function resolveExperts(config: HerdConfig): Promise<ExpertSet> {
  const set =
    config.experts === undefined
      ? await loadExpertSet(config.expertsDir)
      : await parseExpertSet(config.experts, config.expertsDir, "config.experts");
  return config.baseModel ? { ...set, baseModel: config.baseModel } : set;
}

/**
 * The composition root: a container with one module per provider family, each choosing its
 * implementation by the config's name through the registries. Rebind any `TOKENS` entry before
 * resolving to swap an implementation without touching Herd.
 *
 * @example
 * const container = await createContainer({ provider: { name: "ollama" } });
 * container.rebind(TOKENS.ChatProvider).toConstantValue(new MyProvider());
 * const herd = await Herd.fromContainer(container);
 */
export async function createContainer(
  config: HerdConfigInput | string = {},
  options: CreateContainerOptions = {},
): Promise<Container> {
  const resolved = await resolveConfig(config);
  const experts = await resolveExperts(resolved);
  return buildContainer(resolved, experts, options.registries ?? defaultRegistries());
}

/** Builds the container from a validated config and a loaded expert set (synchronous). */
export function buildContainer(
  config: HerdConfig,
  experts: ExpertSet,
  registries: HerdRegistries,
): Container {
  const container = new Container({ defaultScope: "Singleton" });
  container.load(
    configModule(config, experts),
    embeddersModule(registries, config),
    indexesModule(registries, config),
    chatProvidersModule(registries, config),
    routerModule(config),
    pluginsModule(registries, config),
  );
  return container;
}
