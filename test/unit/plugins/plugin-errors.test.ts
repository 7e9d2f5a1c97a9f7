import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PluginError } from "../../../src/core/errors.js";
import type { Plugin } from "../../../src/core/plugin.js";
import { builtinPlugins } from "../../../src/plugins/builtin.js";
import { pipelineWith, user } from "./helpers.js";

describe("plugin failures", () => {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => void unhandled.push(reason);
  beforeEach(() => process.on("unhandledRejection", record));
  afterEach(() => {
    process.off("unhandledRejection", record);
    unhandled.length = 0;
  });

  it.each(["onRequest", "afterRouting", "beforeGeneration", "onChunk"] as const)(
    "a plugin throwing in %s fails that request with PluginError and nothing escapes",
    async (hook) => {
      const plugin: Plugin = {
        name: "broken",
        [hook]: () => {
          throw new TypeError("undefined is not a function");
        },
      };
      const { pipeline } = pipelineWith([plugin]);
      const error = await pipeline.generate(user("hi")).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PluginError);
      expect(error).toMatchObject({ plugin: "broken", hook, status: 500 });
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    },
  );

  it("refuses two plugins with the same name", () => {
    expect(() => pipelineWith([{ name: "x" }, { name: "x" }])).toThrow(/two plugins are named "x"/);
  });
});

describe("built-in plugin registry", () => {
  it("builds each built-in from validated options and names bad options", () => {
    const registry = builtinPlugins();
    expect(registry.names()).toEqual([
      "expert-override",
      "fallback",
      "metrics",
      "request-logging",
      "sticky-routing",
      "tracing",
    ]);
    expect(registry.get("sticky-routing")({ margin: 0.1 }).name).toBe("sticky-routing");
    expect(() => registry.get("sticky-routing")({ margin: "big" })).toThrow(
      /plugins\.sticky-routing\.margin/,
    );
    expect(() => registry.get("fallback")({ retries: 3 })).toThrow(
      /plugins\.fallback\.retries: unknown option/,
    );
    expect(() => registry.get("nope")).toThrow(/Unknown plugin "nope"\. Known plugins: expert-override/);
  });
});
