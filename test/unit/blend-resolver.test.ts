import { describe, expect, it } from "vitest";
import {
  blendGrid,
  blendModelName,
  blendVariants,
  NativeBlendResolver,
  OllamaBlendResolver,
} from "../../src/core/blend-resolver.js";
import type { ChatProvider, ChatProviderCapabilities } from "../../src/core/chat.js";
import type { ExpertSet } from "../../src/core/expert.js";
import type { RoutingDecision } from "../../src/core/routing.js";

const experts: ExpertSet = {
  baseModel: "llama3.2:3b",
  experts: ["code", "creative", "qa", "reasoning"].map((name) => ({
    name,
    description: "",
    categories: [],
    adapter: `adapters/${name}.gguf`,
    model: name === "qa" ? "my-qa-tag" : `herd-${name}`,
    examples: ["x"],
  })),
};

const ollama: ChatProviderCapabilities = { nativeBlend: false, tools: true, jsonSchema: true };
const llamacpp: ChatProviderCapabilities = { nativeBlend: true, tools: false, jsonSchema: true };

function decision(weights: Record<string, number>): RoutingDecision {
  const selected = Object.entries(weights).map(([name, weight]) => ({
    name,
    weight,
    distance: 0.2,
    similarity: 0.8,
  }));
  return {
    ranked: selected,
    selected,
    model: "unused",
    strategy: "centroid",
    weighting: "inverse-distance",
    reason: selected.length ? "routed" : "below-threshold",
    embedder: "hashing",
    timings: { embedMs: 0, queryMs: 0, totalMs: 0 },
    warnings: [],
  };
}

describe("model naming", () => {
  it("names blends with experts in alphabetical order and whole-percent weights", () => {
    expect(
      blendModelName([
        { expert: "reasoning", weight: 0.25 },
        { expert: "code", weight: 0.75 },
      ]),
    ).toBe("herd-blend-code-reasoning-75-25");
  });

  it("lists every two-expert blend on the grid", () => {
    expect(blendGrid(0.25)).toEqual([0.25, 0.5, 0.75]);
    expect(blendGrid(0.1)).toHaveLength(9);
    const variants = blendVariants(["qa", "code", "creative"], 0.25);
    expect(variants).toHaveLength(9);
    expect(variants.map((v) => v.model).slice(0, 3)).toEqual([
      "herd-blend-code-creative-75-25",
      "herd-blend-code-creative-50-50",
      "herd-blend-code-creative-25-75",
    ]);
  });

  it.each([0, 1, 0.3, 1 / 3, 0.125, -0.25, Number.NaN])("rejects the grid step %s", (step) => {
    expect(() => blendGrid(step)).toThrow(/whole percents/);
  });
});

describe("OllamaBlendResolver", () => {
  const resolver = new OllamaBlendResolver({ grid: 0.25 });

  it("sends one expert to its own model", () => {
    expect(resolver.resolve(decision({ qa: 1 }), experts, ollama)).toEqual({
      model: "my-qa-tag",
      adapters: [{ expert: "qa", scale: 1 }],
      base: false,
      warnings: [],
    });
  });

  it("sends no expert to the base model", () => {
    expect(resolver.resolve(decision({}), experts, ollama)).toMatchObject({
      model: "llama3.2:3b",
      base: true,
    });
  });

  it("snaps a blend to the nearest variant on the grid", () => {
    const target = resolver.resolve(decision({ reasoning: 0.68, code: 0.32 }), experts, ollama);
    expect(target.model).toBe("herd-blend-code-reasoning-25-75");
    expect(target.adapters).toEqual([
      { expert: "reasoning", scale: 0.75 },
      { expert: "code", scale: 0.25 },
    ]);
    expect(target.warnings).toEqual([]);
  });

  it("uses the top expert's model when the blend snaps to one side", () => {
    expect(resolver.resolve(decision({ code: 0.9, qa: 0.1 }), experts, ollama).model).toBe("herd-code");
  });

  it("keeps the top two of three experts and says so", () => {
    // 0.5 / (0.5 + 0.3) = 0.625, nearest grid point 0.75
    const target = resolver.resolve(decision({ code: 0.5, qa: 0.3, creative: 0.2 }), experts, ollama);
    expect(target.model).toBe("herd-blend-code-qa-75-25");
    expect(target.warnings[0]).toMatch(/left out "creative"/);
  });

  it("falls back to the top expert with a warning when the variant is not built", () => {
    const partial = new OllamaBlendResolver({ variants: ["herd-blend-code-qa-50-50"] });
    const target = partial.resolve(decision({ reasoning: 0.6, code: 0.4 }), experts, ollama);
    expect(target.model).toBe("herd-reasoning");
    expect(target.warnings).toEqual([
      'Blend variant "herd-blend-code-reasoning-50-50" is not built; the top expert "reasoning" answers alone. Build the variants with `herd build`.',
    ]);
  });
});

describe("NativeBlendResolver", () => {
  it("blends the selected adapters at their routing weights on the base model", () => {
    const target = new NativeBlendResolver().resolve(decision({ code: 0.62, qa: 0.38 }), experts, llamacpp);
    expect(target).toEqual({
      model: "llama3.2:3b",
      adapters: [
        { expert: "code", scale: 0.62 },
        { expert: "qa", scale: 0.38 },
      ],
      base: false,
      warnings: [],
    });
  });

  it("uses the fallback resolver on a provider that cannot blend", () => {
    const resolver = new NativeBlendResolver({ fallback: new OllamaBlendResolver() });
    expect(resolver.resolve(decision({ code: 0.62, qa: 0.38 }), experts, ollama).model).toBe(
      "herd-blend-code-qa-50-50",
    );
    const bare = new NativeBlendResolver().resolve(decision({ code: 0.62, qa: 0.38 }), experts, ollama);
    expect(bare.model).toBe("herd-code");
    expect(bare.warnings[0]).toMatch(/cannot blend adapters/);
  });
});

describe("blend variant discovery", () => {
  const provider = (models: string[] | Error, nativeBlend = false): ChatProvider => ({
    name: "fake",
    capabilities: { nativeBlend, tools: false, jsonSchema: false },
    stream: () => {
      throw new Error("not used");
    },
    health: async () => {},
    listModels: async () => {
      if (models instanceof Error) throw models;
      return models;
    },
  });
  const blend = decision({ code: 0.75, reasoning: 0.25 });

  it("uses only the variants the provider lists", async () => {
    const resolver = new OllamaBlendResolver();
    await resolver.prepare(provider(["herd-code:latest", "herd-blend-code-reasoning-75-25:latest"]));
    expect(resolver.resolve(blend, experts, ollama).model).toBe("herd-blend-code-reasoning-75-25");
    const other = decision({ code: 0.5, reasoning: 0.5 });
    const resolved = resolver.resolve(other, experts, ollama);
    expect(resolved.model).toBe(experts.experts.find((e) => e.name === "code")!.model);
    expect(resolved.warnings[0]).toMatch(/not built/);
  });

  it("answers base requests with herd-base when herd build made it, else with the configured base", async () => {
    const base = decision({});
    const resolver = new OllamaBlendResolver();
    expect(resolver.resolve(base, experts, ollama).model).toBe(experts.baseModel);
    await resolver.prepare(provider(["herd-base:latest", "herd-code:latest"]));
    expect(resolver.resolve(base, experts, ollama)).toMatchObject({
      model: "herd-base",
      base: true,
      adapters: [],
    });
    await resolver.prepare(provider(["herd-code:latest"]));
    expect(resolver.resolve(base, experts, ollama).model).toBe(experts.baseModel);
  });

  it("assumes every variant is built when the provider cannot say, and keeps configured variants", async () => {
    const down = new OllamaBlendResolver();
    await down.prepare(provider(new Error("connection refused")));
    expect(down.resolve(blend, experts, ollama).model).toBe("herd-blend-code-reasoning-75-25");
    const configured = new OllamaBlendResolver({ variants: ["herd-blend-code-reasoning-75-25"] });
    await configured.prepare(provider([]));
    expect(configured.resolve(blend, experts, ollama).model).toBe("herd-blend-code-reasoning-75-25");
  });

  it("the native resolver prepares its fallback only for providers that cannot blend", async () => {
    const fallback = new OllamaBlendResolver();
    const native = new NativeBlendResolver({ fallback });
    await native.prepare(provider([], true));
    expect(native.resolve(blend, experts, llamacpp).adapters).toHaveLength(2);
    await native.prepare(provider([]));
    expect(native.resolve(blend, experts, ollama).warnings[0]).toMatch(/not built/);
  });
});
