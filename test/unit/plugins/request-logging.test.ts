import { describe, expect, it } from "vitest";
import { ProviderResponseError } from "../../../src/core/errors.js";
import { RequestLoggingPlugin, type RequestLogRecord } from "../../../src/plugins/request-logging.js";
import { pipelineWith, user } from "./helpers.js";

describe("request-logging plugin", () => {
  it("logs one record per request without prompt or answer text by default", async () => {
    const records: RequestLogRecord[] = [];
    const { pipeline } = pipelineWith([new RequestLoggingPlugin({ log: (r) => records.push(r) })]);
    await pipeline.generate(
      user("Write a haiku about my secret password", { metadata: { conversationId: "c9" } }),
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      event: "response",
      conversationId: "c9",
      model: "herd-creative",
      experts: [{ name: "creative", weight: 1 }],
      reason: "routed",
      finishReason: "stop",
      inputTokens: 10,
      outputTokens: 2,
    });
    expect(JSON.stringify(records[0])).not.toContain("secret password");
  });

  it("includes the prompt and the answer only when enabled", async () => {
    const records: RequestLogRecord[] = [];
    const plugin = new RequestLoggingPlugin({
      includePrompt: true,
      includeResponse: true,
      log: (r) => records.push(r),
    });
    const { pipeline } = pipelineWith([plugin]);
    await pipeline.generate(user("Write a haiku"));
    expect(records[0]).toMatchObject({ prompt: "Write a haiku", response: "herd-creative: Write a haiku" });
  });

  it("logs failures with the error code", async () => {
    const records: RequestLogRecord[] = [];
    const { pipeline, provider } = pipelineWith([new RequestLoggingPlugin({ log: (r) => records.push(r) })]);
    provider.script = async function* () {
      yield* [];
      throw new ProviderResponseError("backend exploded", 500);
    };
    await expect(pipeline.stream(user("hi"))).rejects.toThrow();
    expect(records).toEqual([
      expect.objectContaining({
        event: "error",
        error: { code: "provider_error", message: "backend exploded" },
      }),
    ]);
  });

  it("a failing log sink becomes a warning, not a failed request", async () => {
    const plugin = new RequestLoggingPlugin({
      log: () => {
        throw new Error("disk full");
      },
    });
    const { pipeline, warnings } = pipelineWith([plugin]);
    const response = await pipeline.generate(user("Write a haiku"));
    expect(response.text).toContain("haiku");
    expect(warnings.join()).toMatch(/request-logging.*disk full/);
  });
});
