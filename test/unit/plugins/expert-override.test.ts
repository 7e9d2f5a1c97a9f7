import { describe, expect, it } from "vitest";
import { InvalidInputError, UnknownExpertError } from "../../../src/core/errors.js";
import { ExpertOverridePlugin } from "../../../src/plugins/expert-override.js";
import { pipelineWith, user } from "./helpers.js";

describe("expert-override plugin", () => {
  const { pipeline, provider } = pipelineWith([new ExpertOverridePlugin()]);

  it.each([
    ["herd:math", "herd-math", "forced"],
    ["herd-math", "herd-math", "forced"],
    ["math", "herd-math", "forced"],
    ["herd:base", "llama3.2", "base-only"],
    ["llama3.2", "llama3.2", "base-only"],
    ["herd", "herd-creative", "routed"],
    ["herd:auto", "herd-creative", "routed"],
  ])("model %s runs %s (%s)", async (model, expected, reason) => {
    const response = await pipeline.generate(user("Write a haiku", { model }));
    expect(response.model).toBe(expected);
    expect(response.decision.reason).toBe(reason);
    expect(provider.requests.at(-1)!.target.model).toBe(expected);
  });

  it("rejects herd:<unknown> with UnknownExpertError listing the experts", async () => {
    const error = await pipeline.stream(user("hi", { model: "herd:poetry" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownExpertError);
    expect((error as Error).message).toMatch(/"poetry".*code, creative, math/);
  });

  it("routes a foreign model name with a warning, or rejects it when configured to", async () => {
    const routed = await pipeline.generate(user("Write a haiku", { model: "gpt-4o" }));
    expect(routed.model).toBe("herd-creative");
    expect(routed.warnings.join()).toMatch(/"gpt-4o" is not a Herd model/);
    const strict = pipelineWith([new ExpertOverridePlugin({ unknownModel: "error" })]).pipeline;
    const error = await strict.stream(user("hi", { model: "gpt-4o" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).param).toBe("model");
  });

  it("leaves an explicit expert field alone", async () => {
    const response = await pipeline.generate(user("Write a haiku", { model: "herd:code", expert: "math" }));
    expect(response.model).toBe("herd-math");
  });
});
