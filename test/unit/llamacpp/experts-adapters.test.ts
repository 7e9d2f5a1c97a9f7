import { describe, expect, it } from "vitest";
import { ExpertConfigError } from "../../../src/core/errors.js";
import type { ExpertSet } from "../../../src/core/expert.js";
import { defaultThreads, ggufAdaptersFromExperts } from "../../../src/providers/llamacpp/index.js";

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
