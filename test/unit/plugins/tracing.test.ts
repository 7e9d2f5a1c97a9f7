import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { LLMResult } from "@langchain/core/outputs";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ChatChunk, ChatRequest } from "../../../src/core/chat.js";
import { ProviderUnavailableError } from "../../../src/core/errors.js";
import { TracingPlugin } from "../../../src/plugins/tracing/index.js";
import { chatModelHarness } from "../chat-model/harness.js";
import { pipelineWith, user } from "./helpers.js";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

const byName = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe("tracing plugin with an OpenTelemetry SDK registered", () => {
  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    trace.disable();
    await provider.shutdown();
  });

  it("makes one span per request with GenAI attributes, and routing as a child span", async () => {
    const { pipeline } = pipelineWith([new TracingPlugin()]);
    await pipeline.generate(
      user("Write a poem", { topExperts: 2, params: { maxTokens: 32, temperature: 0.2 } }),
    );

    const [request] = byName("chat herd");
    const [routing] = byName("herd.route");
    expect(request).toBeDefined();
    expect(request!.kind).toBe(SpanKind.CLIENT);
    expect(request!.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "herd",
      "gen_ai.request.max_tokens": 32,
      "gen_ai.request.temperature": 0.2,
      "gen_ai.response.model": "herd-blend-code-creative-25-75",
      "gen_ai.usage.input_tokens": 10,
      "gen_ai.usage.output_tokens": 2,
      "gen_ai.response.finish_reasons": ["stop"],
      "herd.experts": ["creative", "code"],
      "herd.routing.reason": "routed",
    });
    const weights = request!.attributes["herd.expert_weights"] as number[];
    expect(weights).toHaveLength(2);
    expect(weights[0]! + weights[1]!).toBeCloseTo(1, 9);

    expect(parentOf(routing!)).toBe(request!.spanContext().spanId);
    expect(routing!.spanContext().traceId).toBe(request!.spanContext().traceId);
    expect(routing!.attributes).toMatchObject({
      "herd.experts": ["creative", "code"],
      "herd.ranked_experts": ["creative", "code", "math"],
      "herd.routing.embedder": "fake-v1",
    });
    expect(routing!.attributes["herd.expert_weights"]).toEqual(weights);
  });

  it("marks a failed request's span as an error with error.type", async () => {
    const { pipeline, provider: chat } = pipelineWith([new TracingPlugin()]);
    chat.script = (_request: ChatRequest): AsyncIterable<ChatChunk> =>
      (async function* () {
        yield* [];
        throw new ProviderUnavailableError("Cannot reach Ollama");
      })();
    await expect(pipeline.generate(user("Write a poem"))).rejects.toThrow(/Cannot reach/);
    const [span] = byName("chat herd");
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes["error.type"]).toBe("provider_unavailable");
    expect(span!.events.map((e) => e.name)).toContain("exception");
  });

  describe("through HerdChatModel (LangChain)", () => {
    const { model } = chatModelHarness();

    it("keeps LangChain callbacks seeing the routing decision in the run's outputs", async () => {
      const ends: LLMResult[] = [];
      const routed: unknown[] = [];
      class Recorder extends BaseCallbackHandler {
        name = "recorder";
        override handleLLMEnd(output: LLMResult) {
          ends.push(output);
        }
        override handleCustomEvent(name: string, data: unknown) {
          if (name === "herd_routing") routed.push(data);
        }
      }
      const { chat } = model({}, [new TracingPlugin()]);
      const reply = await chat.invoke("Write a Python function", { callbacks: [new Recorder()] });

      expect((reply.response_metadata.herd as { experts: { name: string }[] }).experts[0]!.name).toBe("code");
      expect(ends).toHaveLength(1);
      const generation = ends[0]!.generations[0]![0] as {
        message?: { response_metadata: Record<string, unknown> };
      };
      expect(generation.message?.response_metadata.herd).toMatchObject({
        model: "herd-code",
        reason: "routed",
        experts: [{ name: "code", weight: 1 }],
      });
      expect(routed).toHaveLength(1);
      // ...and the same request is traced.
      expect(byName("chat herd")[0]!.attributes["gen_ai.response.model"]).toBe("herd-code");
    });
  });
});

describe("tracing plugin without a registered provider, or without the package", () => {
  it("records nothing and leaves requests alone", async () => {
    exporter.reset();
    const { pipeline } = pipelineWith([new TracingPlugin()]);
    const response = await pipeline.generate(user("Write a Python function"));
    expect(response.text).toBe("herd-code: Write a Python function");
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it("stays off when @opentelemetry/api cannot be loaded", async () => {
    const missing = new TracingPlugin({ load: () => Promise.reject(new Error("Cannot find package")) });
    const { pipeline } = pipelineWith([missing]);
    const response = await pipeline.generate(user("What is 2+2?"));
    expect(response.model).toBe("herd-math");
  });
});
