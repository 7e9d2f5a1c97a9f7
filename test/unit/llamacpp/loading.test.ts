import { describe, expect, it } from "vitest";
import { ExpertConfigError, MissingDependencyError } from "../../../src/core/errors.js";
import type { ExpertSet } from "../../../src/core/expert.js";
import {
  defaultThreads,
  ggufAdaptersFromExperts,
  importOptional,
  loadNodeLlamaCpp,
} from "../../../src/providers/llamacpp/index.js";

const expert = (name: string, adapter: string) => ({
  name,
  adapter,
  description: "",
  categories: [],
  model: name,
  examples: [],
});

describe("ggufAdaptersFromExperts", () => {
  it("resolves adapters relative to the experts folder", () => {
    const set: ExpertSet = {
      baseModel: "base.gguf",
      experts: [expert("code", "adapters/code.gguf"), expert("abs", "/x/abs.GGUF")],
    };
    expect(ggufAdaptersFromExperts(set, "/srv/experts")).toEqual({
      code: "/srv/experts/adapters/code.gguf",
      abs: "/x/abs.GGUF",
    });
  });

  it("refuses a PEFT directory with a hint to convert it", () => {
    const set: ExpertSet = { baseModel: "b", experts: [expert("code", "adapters/code-peft")] };
    expect(() => ggufAdaptersFromExperts(set, "/e")).toThrow(ExpertConfigError);
    expect(() => ggufAdaptersFromExperts(set, "/e")).toThrow(
      /"code" has adapter "adapters\/code-peft".*GGUF/,
    );
  });
});

describe("defaultThreads", () => {
  it("uses one thread on small machines and leaves a core free on larger ones", () => {
    expect([1, 2, 4, 16].map(defaultThreads)).toEqual([1, 1, 3, 15]);
  });
});

describe("optional node-llama-cpp", () => {
  it("a missing package becomes a MissingDependencyError naming it and the install command", async () => {
    const name = "herd-package-that-is-not-installed";
    const error = await importOptional(name, "The llamacpp chat provider", () => import(name)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MissingDependencyError);
    expect((error as MissingDependencyError).packageName).toBe(name);
    expect((error as Error).message).toBe(
      `The llamacpp chat provider needs the optional package "${name}". Install it with: npm install ${name}`,
    );
  });

  it("other load errors pass through unchanged", async () => {
    const boom = new Error("native binding failed");
    await expect(importOptional("x", "y", () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it("loads node-llama-cpp when it is installed", async () => {
    expect(typeof (await loadNodeLlamaCpp("test")).getLlama).toBe("function");
  });
});
