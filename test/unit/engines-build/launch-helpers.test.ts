import { describe, expect, it } from "vitest";
import {
  commandLine,
  shellQuote,
  VLLM_LORA_RANKS,
  vllmMaxLoraRank,
} from "../../../src/providers/engines-build/index.js";

describe("vllmMaxLoraRank", () => {
  it.each([
    [1, 1],
    [2, 8],
    [8, 8],
    [9, 16],
    [24, 32],
    [64, 64],
    [129, 256],
    [300, 320],
    [321, 512],
    [512, 512],
  ])("rank %i needs --max-lora-rank %i", (rank, expected) => {
    expect(vllmMaxLoraRank(rank)).toBe(expected);
    expect(VLLM_LORA_RANKS).toContain(expected);
  });

  it("refuses a rank above 512, naming the adapter and what to do", () => {
    expect(() => vllmMaxLoraRank(513, 'Adapter "herd-blend-a-b-50-50"')).toThrow(
      /^Adapter "herd-blend-a-b-50-50" has rank 513, above vLLM's largest --max-lora-rank \(512\)\. A blend's rank is the sum/,
    );
  });
});

describe("shellQuote", () => {
  it("leaves safe words alone and single-quotes the rest so a shell gives back the same argument", () => {
    expect(shellQuote("/models/base.gguf")).toBe("/models/base.gguf");
    expect(shellQuote("--max-lora-rank")).toBe("--max-lora-rank");
    expect(shellQuote('{"name":"a b"}')).toBe(`'{"name":"a b"}'`);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("$HOME")).toBe("'$HOME'");
    expect(commandLine(["vllm", "serve", "my model"], { VLLM_ALLOW_RUNTIME_LORA_UPDATING: "True" })).toBe(
      "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True vllm serve 'my model'",
    );
  });
});
