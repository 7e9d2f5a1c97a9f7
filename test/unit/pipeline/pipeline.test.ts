import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { OllamaBlendResolver } from "../../../src/core/blend-resolver.js";
import type { ChatChunk } from "../../../src/core/chat.js";
import {
  AbortError,
  InvalidInputError,
  PluginError,
  ProviderResponseError,
  UnknownExpertError,
} from "../../../src/core/errors.js";
import { type HerdRequest, Pipeline, type PipelineOptions } from "../../../src/core/pipeline.js";
import type { Plugin } from "../../../src/core/plugin.js";
import { FakeRouter, ScriptedProvider, testExperts } from "../../fixtures/herd/fakes.js";

const ask = (content: string, extra: Partial<HerdRequest> = {}): HerdRequest => ({
  messages: [{ role: "user", content }],
  ...extra,
});

function setup(options: Partial<PipelineOptions> = {}) {
  const provider = (options.provider as ScriptedProvider | undefined) ?? new ScriptedProvider();
  const router = new FakeRouter();
  const warnings: string[] = [];
  const pipeline = new Pipeline({
    router,
    resolver: new OllamaBlendResolver(),
    provider,
    experts: testExperts,
    logger: { warn: (m) => warnings.push(m) },
    ...options,
  });
  return { pipeline, provider, router, warnings };
}

async function texts(stream: AsyncIterable<ChatChunk>): Promise<string> {
  let out = "";
  for await (const chunk of stream) if (chunk.type === "text") out += chunk.text;
  return out;
}

describe("Pipeline", () => {
  it("routes, resolves the expert's model and streams the provider's answer", async () => {
    const { pipeline, provider } = setup();
    const stream = await pipeline.stream(ask("Write a Python function"));
    expect(stream.decision.selected.map((e) => e.name)).toEqual(["code"]);
    expect(stream.target).toMatchObject({ model: "herd-code", base: false });
    expect(await texts(stream)).toBe("herd-code: Write a Python function");
    expect(provider.requests[0]!.target.model).toBe("herd-code");
  });

  it("returns the whole answer from generate, with usage and the decision", async () => {
    const { pipeline } = setup();
    const response = await pipeline.generate(ask("Write a haiku"));
    expect(response).toMatchObject({
      text: "herd-creative: Write a haiku",
      finishReason: "stop",
      usage: { inputTokens: 10, outputTokens: 2 },
      model: "herd-creative",
      toolCalls: [],
    });
    expect(response.decision.reason).toBe("routed");
    expect(response.warnings).toEqual([]);
  });

  it("leaves usage out when the provider reported none, with a warning naming the provider", async () => {
    const { pipeline, provider } = setup();
    provider.script = async function* () {
      yield { type: "text", text: "Hi" };
      yield { type: "finish", finishReason: "stop" };
    };
    const response = await pipeline.generate(ask("Write a haiku"));
    expect(response.text).toBe("Hi");
    expect(response.usage).toBeUndefined();
    expect(response.warnings).toEqual([
      'Chat provider "scripted" reported no token usage for this answer: usage is left out, not guessed (see README "Token usage").',
    ]);
  });

  it("forces the expert named in the request, skipping routing", async () => {
    const { pipeline, provider } = setup();
    const stream = await pipeline.stream(ask("Write a haiku", { expert: "math" }));
    await texts(stream);
    expect(stream.decision.reason).toBe("forced");
    expect(provider.requests[0]!.target.model).toBe("herd-math");
  });

  it("rejects an unknown expert with UnknownExpertError listing the known ones, before generating", async () => {
    const { pipeline, provider } = setup();
    const error = await pipeline.stream(ask("hi", { expert: "poetry" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownExpertError);
    expect((error as Error).message).toMatch(/code, creative, math/);
    expect(provider.requests).toHaveLength(0);
  });

  it("rejects empty messages and bad roles with InvalidInputError naming the field", async () => {
    const { pipeline } = setup();
    await expect(pipeline.stream({ messages: [] })).rejects.toMatchObject({ param: "messages" });
    const bad = { messages: [{ role: "robot", content: "x" }] } as unknown as HerdRequest;
    const error = await pipeline.stream(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).param).toBe("messages[0].role");
  });

  it("runs plugin hooks in order: onRequest, afterRouting, beforeGeneration, onChunk, onResponse", async () => {
    const calls: string[] = [];
    const spy = (name: string, order?: number): Plugin => ({
      name,
      order,
      onRequest: () => void calls.push(`${name}.onRequest`),
      afterRouting: () => void calls.push(`${name}.afterRouting`),
      beforeGeneration: () => void calls.push(`${name}.beforeGeneration`),
      onChunk: (_ctx, chunk) => void calls.push(`${name}.onChunk:${chunk.type}`),
      onResponse: () => void calls.push(`${name}.onResponse`),
    });
    const { pipeline } = setup({ plugins: [spy("late", 10), spy("early", -1)] });
    await pipeline.generate(ask("Write a haiku"));
    expect(calls.filter((c) => c.startsWith("early")).map((c) => c.split(".")[1])).toEqual([
      "onRequest",
      "afterRouting",
      "beforeGeneration",
      "onChunk:text",
      "onChunk:text",
      "onChunk:finish",
      "onResponse",
    ]);
    expect(calls.indexOf("early.onRequest")).toBeLessThan(calls.indexOf("late.onRequest"));
  });

  it("lets plugins change the route, the decision, the provider request and the chunks", async () => {
    const plugin: Plugin = {
      name: "rewrite",
      onRequest: (ctx) => {
        ctx.routeOptions.experts = ["math"];
      },
      beforeGeneration: (ctx) => {
        ctx.chatRequest!.params.temperature = 0;
      },
      onChunk: (_ctx, chunk) =>
        chunk.type === "text" ? { type: "text", text: chunk.text.toUpperCase() } : undefined,
    };
    const { pipeline, provider } = setup({ plugins: [plugin] });
    const response = await pipeline.generate(ask("Write a haiku"));
    expect(response.text).toBe("HERD-MATH: WRITE A HAIKU");
    expect(provider.requests[0]!.params.temperature).toBe(0);
  });

  it("fails the request with PluginError naming the plugin and hook, and keeps serving", async () => {
    let broken = true;
    const plugin: Plugin = {
      name: "flaky",
      onRequest: async () => {
        if (broken) throw new Error("boom");
      },
    };
    const { pipeline } = setup({ plugins: [plugin] });
    const error = await pipeline.stream(ask("hi")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginError);
    expect(error).toMatchObject({ plugin: "flaky", hook: "onRequest" });
    expect((error as Error).message).toMatch(/boom/);
    broken = false;
    expect((await pipeline.generate(ask("Write a haiku"))).text).toContain("haiku");
  });

  it("turns onResponse and onError failures into warnings instead of errors", async () => {
    const plugin: Plugin = {
      name: "bad-logger",
      onResponse: () => {
        throw new Error("disk full");
      },
      onError: async () => {
        throw new Error("also broken");
      },
    };
    const { pipeline, warnings, provider } = setup({ plugins: [plugin] });
    const response = await pipeline.generate(ask("Write a haiku"));
    expect(response.warnings.join("\n")).toMatch(/bad-logger.*onResponse.*disk full/);
    provider.script = async function* () {
      yield* [];
      throw new ProviderResponseError("backend down", 500);
    };
    await expect(pipeline.stream(ask("hi"))).rejects.toThrow("backend down");
    expect(warnings.join("\n")).toMatch(/onError.*also broken/);
  });

  it("rejects stream() itself when the provider fails before the first chunk, and tells onError once", async () => {
    const errors: unknown[] = [];
    const { pipeline, provider } = setup({
      plugins: [{ name: "watch", onError: (_c, e) => void errors.push(e) }],
    });
    provider.script = async function* () {
      yield* [];
      throw new ProviderResponseError("model crashed", 500);
    };
    await expect(pipeline.stream(ask("hi"))).rejects.toBeInstanceOf(ProviderResponseError);
    expect(errors).toHaveLength(1);
  });

  it("raises mid-stream failures from the iterator after the chunks before them", async () => {
    const errors: unknown[] = [];
    const { pipeline, provider } = setup({
      plugins: [{ name: "watch", onError: (_c, e) => void errors.push(e) }],
    });
    provider.script = async function* () {
      yield { type: "text", text: "partial" };
      throw new ProviderResponseError("an error was encountered while running the model");
    };
    const stream = await pipeline.stream(ask("hi"));
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) if (chunk.type === "text") seen.push(chunk.text);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(["partial"]);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect(errors).toHaveLength(1);
  });

  it("sends no tools to a provider that cannot call them, and asks for plain JSON when schemas are unsupported", async () => {
    const provider = new ScriptedProvider();
    provider.capabilities = { nativeBlend: false, tools: false, jsonSchema: false };
    const { pipeline } = setup({ provider });
    const stream = await pipeline.stream(
      ask("hi", {
        tools: [{ name: "lookup", parameters: { type: "object" } }],
        responseFormat: { type: "json_schema", schema: { type: "object" } },
      }),
    );
    await texts(stream);
    expect(provider.requests[0]!.tools).toBeUndefined();
    expect(provider.requests[0]!.responseFormat).toEqual({ type: "json" });
    expect(stream.warnings.join("\n")).toMatch(/cannot call tools/);
    expect(stream.warnings.join("\n")).toMatch(/JSON schema/);
  });

  it("collects streamed tool calls with parsed arguments", async () => {
    const { pipeline, provider } = setup();
    provider.script = async function* () {
      yield { type: "tool-call", index: 0, id: "call_1", name: "lookup", argumentsDelta: '{"q":' };
      yield { type: "tool-call", index: 0, argumentsDelta: '"sky"}' };
      yield { type: "finish", finishReason: "tool_calls" };
    };
    const response = await pipeline.generate(ask("hi"));
    expect(response.toolCalls).toEqual([{ id: "call_1", name: "lookup", arguments: { q: "sky" } }]);
    expect(response.finishReason).toBe("tool_calls");
  });

  it("limits generations per backend: a request waits until a slot frees", async () => {
    const { pipeline, provider } = setup({ concurrency: 1 });
    const first = await pipeline.stream(ask("Write a haiku"));
    let secondStarted = false;
    const second = pipeline.stream(ask("Write a Python function")).then((s) => {
      secondStarted = true;
      return s;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(secondStarted).toBe(false);
    expect(provider.requests).toHaveLength(1);
    expect(pipeline.load).toEqual({ running: 1, queued: 1 });
    await texts(first);
    expect(await texts(await second)).toContain("Python");
    expect(pipeline.load).toEqual({ running: 0, queued: 0 });
  });

  it("fails fast with a retryable 503 when the queue is full", async () => {
    const { pipeline } = setup({ concurrency: 1, queue: 0 });
    const first = await pipeline.stream(ask("Write a haiku"));
    const error = await pipeline.stream(ask("again")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect(error).toMatchObject({ providerStatus: 503, status: 503, isRetryable: true });
    first.cancel();
  });

  it("frees the slot and stops the provider when the caller cancels or breaks out", async () => {
    let upstreamClosed = 0;
    const { pipeline, provider } = setup({ concurrency: 1 });
    provider.script = async function* () {
      try {
        yield { type: "text", text: "a" };
        yield { type: "text", text: "b" };
        yield { type: "finish", finishReason: "stop" };
      } finally {
        upstreamClosed++;
      }
    };
    const cancelled = await pipeline.stream(ask("hi"));
    cancelled.cancel();
    const broken = await pipeline.stream(ask("hi"));
    for await (const _ of broken) break;
    await new Promise((resolve) => setImmediate(resolve));
    expect(upstreamClosed).toBe(2);
    expect(pipeline.load.running).toBe(0);
  });

  it("throws AbortError when the caller's signal is already aborted, without calling the provider", async () => {
    const { pipeline, provider } = setup();
    const controller = new AbortController();
    controller.abort();
    await expect(pipeline.stream(ask("hi"), { signal: controller.signal })).rejects.toBeInstanceOf(
      AbortError,
    );
    expect(provider.requests).toHaveLength(0);
  });
});

describe("Pipeline and a long-lived caller signal", () => {
  it("leaves no abort listener on it once each request is over, however the request ended", async () => {
    const provider = new ScriptedProvider();
    const { pipeline } = setup({ provider });
    const app = new AbortController(); // e.g. a signal that lives as long as the application
    for (let i = 0; i < 12; i++) {
      const read = await pipeline.stream(ask(`read ${i}`), { signal: app.signal });
      await texts(read);
      await pipeline.generate(ask(`generate ${i}`), { signal: app.signal });
      const broken = await pipeline.stream(ask(`break ${i}`), { signal: app.signal });
      for await (const _ of broken) break;
      (await pipeline.stream(ask(`cancel ${i}`), { signal: app.signal })).cancel();
    }
    expect(provider.requests).toHaveLength(48);
    expect(getEventListeners(app.signal, "abort")).toHaveLength(0);
  });
});

describe("Pipeline slots", () => {
  it("frees the slot when the caller's signal fires before the stream is read", async () => {
    const { pipeline } = setup({ concurrency: 1 });
    const controller = new AbortController();
    await pipeline.stream(ask("hi"), { signal: controller.signal });
    expect(pipeline.load.running).toBe(1);
    controller.abort();
    expect(pipeline.load.running).toBe(0);
    expect((await pipeline.generate(ask("Write a haiku"))).text).toContain("haiku");
  });
});

describe("Pipeline: what the provider can enforce", () => {
  const tool = { name: "get_weather", parameters: { type: "object" } };

  it("refuses a forced tool choice the provider cannot enforce with a 400 naming why", async () => {
    const { pipeline, provider } = setup();
    for (const toolChoice of ["required", { name: "get_weather" }] as const) {
      const error = await pipeline
        .stream(ask("weather?", { tools: [tool], toolChoice }))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect(error).toMatchObject({ status: 400, param: "tool_choice" });
      expect((error as Error).message).toMatch(/cannot enforce tool_choice/);
    }
    expect(provider.requests).toHaveLength(0);
    provider.capabilities = { ...provider.capabilities, forcedToolChoice: true };
    const stream = await pipeline.stream(ask("weather?", { tools: [tool], toolChoice: "required" }));
    await texts(stream);
    expect(provider.requests[0]).toMatchObject({ toolChoice: "required" });
  });

  it("refuses logprobs the provider cannot return with a 400", async () => {
    const { pipeline } = setup();
    const error = await pipeline.stream(ask("hi", { params: { logprobs: true } })).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400, param: "logprobs" });
  });
});
