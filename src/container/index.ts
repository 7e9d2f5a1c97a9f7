export {
  buildContainer,
  type CreateContainerOptions,
  createContainer,
  resolveConfig,
  resolveExperts,
} from "./create-container.js";
export {
  chatProvidersModule,
  configModule,
  embeddersModule,
  indexesModule,
  pluginsModule,
  routerModule,
} from "./modules.js";
export {
  type BlendResolverFactory,
  defaultRegistries,
  type Factory,
  type FactoryContext,
  type HerdRegistries,
  settings,
} from "./registries.js";
