import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { DEFAULT_BLEND_GRID, expertModel } from "../core/blend-resolver.js";
import type { ChatProvider } from "../core/chat.js";
import type { ExpertSet } from "../core/expert.js";
import type { Registry } from "../core/registry.js";
import { expertAdapterFiles, LlamaServerChatProvider } from "../providers/chat/llama-server/index.js";
import { LoraxChatProvider } from "../providers/chat/lorax/index.js";
import { VllmChatProvider } from "../providers/chat/vllm/index.js";
import { type Factory, type FactoryContext, settings } from "./registries.js";

/** Settings every engine provider takes. */
const engineFields = {
  url: z.string().min(1).optional(),
  apiKey: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).optional(),
};

const modelsByExpert = (experts: ExpertSet) =>
  Object.fromEntries(experts.experts.map((e) => [e.name, expertModel(e)]));

function gridOf(ctx: FactoryContext): number {
  const grid = (ctx.config.blend as { grid?: unknown }).grid;
  return typeof grid === "number" ? grid : DEFAULT_BLEND_GRID;
}

/**
 * Registers the serving engines as chat providers: `vllm`, `lorax` and `llama-server`, each
 * configured as `{ name, url, apiKey, ... }` (`herd serve --provider vllm:URL --api-key-backend KEY`).
 */
export function registerEngineProviders(registry: Registry<Factory<ChatProvider>>): void {
  registry
    .register("vllm", (s, ctx) => {
      const o = settings(
        "provider",
        z
          .object({
            ...engineFields,
            adapterDir: z.string().min(1).optional(),
            blends: z.array(z.string().min(1)).optional(),
          })
          .strict(),
        s,
      );
      return new VllmChatProvider({
        ...o,
        timeouts: ctx.config.timeouts,
        experts: modelsByExpert(ctx.experts),
        blendGrid: gridOf(ctx),
      });
    })
    .register("lorax", (s, ctx) => {
      const o = settings(
        "provider",
        z
          .object({
            ...engineFields,
            adapterDir: z.string().min(1).optional(),
            adapterSource: z.enum(["hub", "local", "s3", "pbase"]).optional(),
            blends: z.array(z.string().min(1)).optional(),
            merge: z
              .object({
                strategy: z.enum(["linear", "ties", "dare_linear", "dare_ties"]).optional(),
                density: z.number().min(0).max(1).optional(),
                majoritySignMethod: z.enum(["total", "frequency"]).optional(),
              })
              .strict()
              .optional(),
            chatTemplate: z.string().min(1).optional(),
            tokenizerConfig: z.string().min(1).optional(),
            defaultMaxTokens: z.number().int().min(1).optional(),
          })
          .strict(),
        s,
      );
      const tokenizerConfig =
        o.tokenizerConfig && !isAbsolute(o.tokenizerConfig)
          ? resolve(ctx.config.expertsDir, o.tokenizerConfig)
          : o.tokenizerConfig;
      return new LoraxChatProvider({
        ...o,
        timeouts: ctx.config.timeouts,
        tokenizerConfig,
        experts: modelsByExpert(ctx.experts),
      });
    })
    .register("llama-server", (s, ctx) => {
      const o = settings("provider", z.object(engineFields).strict(), s);
      return new LlamaServerChatProvider({
        ...o,
        timeouts: ctx.config.timeouts,
        experts: expertAdapterFiles(ctx.experts, ctx.config.expertsDir),
        expertsDir: ctx.config.expertsDir,
      });
    });
}
