import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { NativeBlendResolver, OllamaBlendResolver } from "../core/blend-resolver.js";
import type { CentroidIndex } from "../core/centroid-index.js";
import type { BlendResolver, ChatProvider, ChatProviderCapabilities } from "../core/chat.js";
import type { HerdConfig } from "../core/config.js";
import type { Embedder } from "../core/embedder.js";
import { ConfigError } from "../core/errors.js";
import type { ExpertSet } from "../core/expert.js";
import type { PluginFactory } from "../core/plugin.js";
import { Registry } from "../core/registry.js";
import { builtinPlugins } from "../plugins/builtin.js";
import { OllamaChatProvider } from "../providers/chat/ollama.js";
import { HashingEmbedder } from "../providers/embedders/hashing.js";
import { LangChainEmbedder } from "../providers/embedders/langchain.js";
import { OllamaEmbedder } from "../providers/embedders/ollama.js";
import { ChromaIndex } from "../providers/indexes/chroma.js";
import { MemoryIndex } from "../providers/indexes/memory.js";
import { LlamaCppChatProvider } from "../providers/llamacpp/chat-provider.js";
import { LlamaCppEmbedder } from "../providers/llamacpp/embedder.js";
import { ggufAdaptersFromExperts } from "../providers/llamacpp/experts-adapters.js";
import { registerEngineProviders } from "./engine-providers.js";

/** What a factory gets besides its own settings. */
export interface FactoryContext {
  config: HerdConfig;
  experts: ExpertSet;
}

/** Builds an implementation from its config entry (`{ name, ...settings }`, name removed). */
export type Factory<T> = (settings: Record<string, unknown>, ctx: FactoryContext) => T;

/** Builds a blend resolver; it may look at the chat provider's capabilities. */
export type BlendResolverFactory = (
  settings: Record<string, unknown>,
  ctx: FactoryContext & { capabilities: ChatProviderCapabilities },
) => BlendResolver;

/** The named implementations a config can pick from. Register your own to use them by name. */
export interface HerdRegistries {
  embedders: Registry<Factory<Embedder>>;
  indexes: Registry<Factory<CentroidIndex>>;
  chatProviders: Registry<Factory<ChatProvider>>;
  blendResolvers: Registry<BlendResolverFactory>;
  plugins: Registry<PluginFactory>;
}

/** Parses a component's settings with a strict schema; errors name the field as `<section>.<key>`. */
export function settings<S extends z.ZodType>(
  section: string,
  schema: S,
  value: Record<string, unknown>,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = issue.code === "unrecognized_keys" ? issue.keys[0] : issue.path.join(".");
  const field = key ? `${section}.${key}` : section;
  const why =
    issue.code === "unrecognized_keys" ? "unknown setting; remove it or check its spelling" : issue.message;
  throw new ConfigError(`Invalid config: ${field}: ${why}.`, field);
}

const path = (ctx: FactoryContext, p: string) => (isAbsolute(p) ? p : resolve(ctx.config.expertsDir, p));
const allExamples = (experts: ExpertSet) => experts.experts.flatMap((e) => e.examples);

/** The built-in implementations: fresh registries, safe to add to. */
export function defaultRegistries(): HerdRegistries {
  const embedders = new Registry<Factory<Embedder>>("embedder")
    .register("hashing", (s, ctx) => {
      const o = settings(
        "embedder",
        z.object({ dimension: z.number().int().min(16).optional(), idf: z.boolean().default(true) }).strict(),
        s,
      );
      const options = o.dimension === undefined ? {} : { dimension: o.dimension };
      return o.idf ? HashingEmbedder.fit(allExamples(ctx.experts), options) : new HashingEmbedder(options);
    })
    .register("ollama", (s, ctx) => {
      const o = settings(
        "embedder",
        z
          .object({
            model: z.string().min(1).optional(),
            url: z.string().min(1).optional(),
            batchSize: z.number().int().min(1).optional(),
            keepAlive: z.union([z.string(), z.number()]).optional(),
          })
          .strict(),
        s,
      );
      return new OllamaEmbedder({
        model: o.model,
        baseUrl: o.url,
        batchSize: o.batchSize,
        keepAlive: o.keepAlive,
        timeouts: ctx.config.timeouts,
      });
    })
    .register("llamacpp", (s, ctx) => {
      const o = settings(
        "embedder",
        z
          .object({
            modelPath: z.string().min(1),
            threads: z.number().int().min(1).optional(),
            contextSize: z.number().int().min(16).optional(),
          })
          .strict(),
        s,
      );
      return new LlamaCppEmbedder({ ...o, modelPath: path(ctx, o.modelPath) });
    });

  embedders.register("langchain", (s) => LangChainEmbedder.fromSettings(s));

  const indexes = new Registry<Factory<CentroidIndex>>("index")
    .register("memory", (s) => {
      settings("index", z.object({}).strict(), s);
      return new MemoryIndex();
    })
    .register("chroma", (s, ctx) => {
      const o = settings(
        "index",
        z
          .object({
            url: z.string().min(1).optional(),
            tenant: z.string().optional(),
            database: z.string().optional(),
            collectionPrefix: z.string().optional(),
            headers: z.record(z.string(), z.string()).optional(),
          })
          .strict(),
        s,
      );
      return new ChromaIndex({ ...o, timeouts: ctx.config.timeouts });
    });

  const chatProviders = new Registry<Factory<ChatProvider>>("chat provider")
    .register("ollama", (s, ctx) => {
      const o = settings(
        "provider",
        z
          .object({
            url: z.string().min(1).optional(),
            options: z.record(z.string(), z.unknown()).optional(),
            keepAlive: z.union([z.string(), z.number()]).optional(),
            headers: z.record(z.string(), z.string()).optional(),
          })
          .strict(),
        s,
      );
      return new OllamaChatProvider({
        baseUrl: o.url,
        options: o.options,
        keepAlive: o.keepAlive,
        headers: o.headers,
        timeouts: ctx.config.timeouts,
      });
    })
    .register("llamacpp", (s, ctx) => {
      const o = settings(
        "provider",
        z
          .object({
            modelPath: z.string().min(1).optional(),
            threads: z.number().int().min(1).optional(),
            contextSize: z.number().int().min(16).optional(),
            maxContexts: z.number().int().min(1).optional(),
            chatTemplate: z.string().optional(),
            reusePrefix: z.boolean().optional(),
          })
          .strict(),
        s,
      );
      return new LlamaCppChatProvider({
        ...o,
        // On llama.cpp the base model is a GGUF file: experts.json's baseModel unless modelPath says otherwise.
        modelPath: path(ctx, o.modelPath ?? ctx.experts.baseModel),
        adapters: ggufAdaptersFromExperts(ctx.experts, ctx.config.expertsDir),
      });
    });

  registerEngineProviders(chatProviders);

  const gridSchema = z
    .object({ grid: z.number().positive().max(0.5).optional(), variants: z.array(z.string()).optional() })
    .strict();
  const blendResolvers = new Registry<BlendResolverFactory>("blend resolver")
    .register("ollama", (s) => new OllamaBlendResolver(settings("blend", gridSchema, s)))
    .register(
      "native",
      (s) => new NativeBlendResolver({ fallback: new OllamaBlendResolver(settings("blend", gridSchema, s)) }),
    )
    .register("auto", (s, ctx) => {
      const o = settings("blend", gridSchema, s);
      return ctx.capabilities.nativeBlend
        ? new NativeBlendResolver({ fallback: new OllamaBlendResolver(o) })
        : new OllamaBlendResolver(o);
    });

  return { embedders, indexes, chatProviders, blendResolvers, plugins: builtinPlugins() };
}
