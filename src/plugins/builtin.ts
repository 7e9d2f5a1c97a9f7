import { z } from "zod";
import { ConfigError } from "../core/errors.js";
import type { PluginFactory } from "../core/plugin.js";
import { Registry } from "../core/registry.js";
import { ExpertOverridePlugin } from "./expert-override.js";
import { FallbackPlugin } from "./fallback.js";
import { MetricsPlugin } from "./metrics/index.js";
import { RequestLoggingPlugin } from "./request-logging.js";
import { StickyRoutingPlugin } from "./sticky-routing.js";
import { TracingPlugin } from "./tracing/index.js";

/** Validates a plugin's config options; errors name the field as `plugins.<name>.<field>`. */
function validated<S extends z.ZodType>(
  name: string,
  schema: S,
  build: (options: z.output<S>) => ReturnType<PluginFactory>,
) {
  return (options: Record<string, unknown>) => {
    const parsed = schema.safeParse(options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const key = issue.code === "unrecognized_keys" ? issue.keys[0] : issue.path.join(".");
      const field = `plugins.${name}${key ? `.${key}` : ""}`;
      const why =
        issue.code === "unrecognized_keys"
          ? "unknown option; remove it or check its spelling"
          : issue.message;
      throw new ConfigError(`Invalid config: ${field}: ${why}.`, field);
    }
    return build(parsed.data);
  };
}

/** A fresh registry of the built-in plugins, by config name. Add your own with `register`. */
export function builtinPlugins(): Registry<PluginFactory> {
  return new Registry<PluginFactory>("plugin")
    .register(
      "expert-override",
      validated(
        "expert-override",
        z
          .object({
            prefix: z.string().min(1).optional(),
            routedModels: z.array(z.string()).optional(),
            unknownModel: z.enum(["route", "error"]).optional(),
          })
          .strict(),
        (o) => new ExpertOverridePlugin(o),
      ),
    )
    .register(
      "sticky-routing",
      validated(
        "sticky-routing",
        z
          .object({
            margin: z.number().min(0).max(2).optional(),
            maxConversations: z.number().int().min(1).optional(),
          })
          .strict(),
        (o) => new StickyRoutingPlugin(o),
      ),
    )
    .register(
      "fallback",
      validated(
        "fallback",
        z.object({ onUnavailable: z.boolean().optional() }).strict(),
        (o) => new FallbackPlugin(o),
      ),
    )
    .register(
      "metrics",
      validated(
        "metrics",
        z
          .object({
            processMetrics: z.boolean().optional(),
            recent: z.number().int().min(0).max(1000).optional(),
          })
          .strict(),
        (o) => new MetricsPlugin(o),
      ),
    )
    .register(
      "request-logging",
      validated(
        "request-logging",
        z.object({ includePrompt: z.boolean().optional(), includeResponse: z.boolean().optional() }).strict(),
        (o) => new RequestLoggingPlugin(o),
      ),
    )
    .register(
      "tracing",
      validated(
        "tracing",
        z.object({ tracerName: z.string().min(1).optional() }).strict(),
        (o) => new TracingPlugin(o),
      ),
    );
}
