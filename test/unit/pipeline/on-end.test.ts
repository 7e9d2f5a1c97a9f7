import { describe, expect, it } from "vitest";
import type { ChatChunk, ChatRequest } from "../../../src/core/chat.js";
import { ProviderResponseError, ProviderUnavailableError } from "../../../src/core/errors.js";
import type { Plugin, RequestOutcome } from "../../../src/core/plugin.js";
import { pipelineWith, user } from "../plugins/helpers.js";

/** A plugin that records every onEnd call as "ok", "error: <message>" or "cancelled". */
function recorder() {
  const ends: string[] = [];
  const plugin: Plugin = {
    name: "ends",
    onEnd(_ctx, outcome: RequestOutcome) {
      if (outcome.response) ends.push(`ok: ${outcome.response.text}`);
      else if (outcome.error !== undefined) ends.push(`error: ${(outcome.error as Error).message}`);
      else ends.push("cancelled");
    },
  };
  return { ends, plugin };
}

describe("the onEnd hook", () => {
  it("runs once per request, with the answer, the error, or neither when the caller cancelled", async () => {
    const { ends, plugin } = recorder();
    const { pipeline, provider } = pipelineWith([plugin]);
    await pipeline.generate(user("Write a Python function"));

    provider.script = (_r: ChatRequest): AsyncIterable<ChatChunk> =>
      (async function* () {
        yield* [];
        throw new ProviderUnavailableError("backend down");
      })();
    await expect(pipeline.generate(user("Write a haiku"))).rejects.toThrow(/backend down/);

    provider.script = (_r: ChatRequest): AsyncIterable<ChatChunk> =>
      (async function* () {
        yield { type: "text", text: "half" };
        throw new ProviderResponseError("broke mid-stream", 500);
      })();
    await expect(pipeline.generate(user("Write a haiku"))).rejects.toThrow(/mid-stream/);

    provider.script = (_r: ChatRequest): AsyncIterable<ChatChunk> =>
      (async function* () {
        yield { type: "text", text: "one" };
        yield { type: "text", text: "two" };
        yield { type: "finish", finishReason: "stop" };
      })();
    const broken = await pipeline.stream(user("Write a haiku"));
    for await (const _ of broken) break;
    const unread = await pipeline.stream(user("Write a haiku"));
    unread.cancel();
    unread.cancel();

    expect(ends).toEqual([
      "ok: herd-code: Write a Python function",
      "error: backend down",
      "error: broke mid-stream",
      "cancelled",
      "cancelled",
    ]);
  });

  it("logs a throwing onEnd and keeps the answer", async () => {
    const { pipeline, warnings } = pipelineWith([
      {
        name: "broken-end",
        onEnd() {
          throw new Error("boom");
        },
      },
    ]);
    const response = await pipeline.generate(user("Write a Python function"));
    expect(response.text).toBe("herd-code: Write a Python function");
    expect(warnings).toEqual(['Plugin "broken-end" failed in onEnd: boom']);
  });
});
