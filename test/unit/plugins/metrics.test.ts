import { describe, expect, it } from "vitest";
import type { ChatChunk, ChatRequest } from "../../../src/core/chat.js";
import { ModelNotFoundError, ProviderResponseError } from "../../../src/core/errors.js";
import { FallbackPlugin } from "../../../src/plugins/fallback.js";
import { MetricsPlugin } from "../../../src/plugins/metrics/index.js";
import { echoScript } from "../../fixtures/herd/fakes.js";
import { pipelineWith, user } from "./helpers.js";

/** The value of one sample line `name{labels} value` in Prometheus text, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

const metricsPlugin = () => new MetricsPlugin({ processMetrics: false });

describe("metrics plugin", () => {
  it("counts requests, decisions, tokens and timings with their labels", async () => {
    const metrics = metricsPlugin();
    const { pipeline } = pipelineWith([metrics]);
    await pipeline.generate(user("Write a Python function"));
    await pipeline.generate(user("Write a Python function"));
    await pipeline.generate(user("Write a haiku", { expert: "math" }));
    await pipeline.generate(user("Write a poem", { topExperts: 2 }));
    const text = await metrics.metrics();

    expect(
      sample(text, "herd_requests_total", {
        route: "sdk",
        model: "herd-code",
        expert: "code",
        status: "200",
      }),
    ).toBe(2);
    expect(sample(text, "herd_routing_decisions_total", { expert: "code", reason: "routed" })).toBe(2);
    expect(sample(text, "herd_routing_decisions_total", { expert: "math", reason: "forced" })).toBe(1);
    expect(sample(text, "herd_routing_decisions_total", { expert: "code+creative", reason: "routed" })).toBe(
      1,
    );
    expect(sample(text, "herd_blend_size_bucket", { le: "1" })).toBe(3);
    expect(sample(text, "herd_blend_size_bucket", { le: "2" })).toBe(4);
    expect(sample(text, "herd_routing_duration_seconds_count")).toBe(4);
    const code = { gen_ai_operation_name: "chat", gen_ai_request_model: "herd", herd_expert: "code" };
    expect(sample(text, "gen_ai_client_token_usage_sum", { ...code, gen_ai_token_type: "input" })).toBe(20);
    expect(sample(text, "gen_ai_client_token_usage_sum", { ...code, gen_ai_token_type: "output" })).toBe(4);
    expect(sample(text, "gen_ai_server_request_duration_seconds_count", code)).toBe(2);
    expect(sample(text, "gen_ai_server_time_to_first_token_seconds_count", code)).toBe(2);
    expect(sample(text, "herd_requests_in_flight")).toBe(0);
    expect(text).toMatch(/# TYPE gen_ai_server_time_to_first_token_seconds histogram/);
  });

  it("labels the GenAI metrics as the OpenTelemetry conventions require: provider name, token buckets", async () => {
    const metrics = metricsPlugin();
    const { pipeline } = pipelineWith([metrics]);
    await pipeline.generate(user("Write a Python function"));
    const text = await metrics.metrics();
    for (const name of [
      "gen_ai_client_token_usage_count",
      "gen_ai_server_request_duration_seconds_count",
      "gen_ai_server_time_to_first_token_seconds_count",
    ]) {
      expect(sample(text, name, { gen_ai_operation_name: "chat", gen_ai_provider_name: "herd" }), name).toBe(
        1,
      );
    }
    // gen_ai.client.token.usage's advised boundaries go up to 2^26 tokens.
    expect(
      sample(text, "gen_ai_client_token_usage_bucket", { le: "67108864", gen_ai_token_type: "input" }),
    ).toBe(1);
  });

  it("counts backend errors by kind, a fallback as its own reason, and failed requests by status", async () => {
    const metrics = metricsPlugin();
    const { pipeline, provider } = pipelineWith([metrics, new FallbackPlugin()]);
    provider.script = (request: ChatRequest): AsyncIterable<ChatChunk> => {
      const last = request.messages.at(-1)!.content;
      if (request.target.model === "herd-creative" || last.includes("busy")) {
        return (async function* () {
          yield* [];
          if (last.includes("busy")) throw new ProviderResponseError("too many requests", 429);
          throw new ModelNotFoundError("herd-creative", "not found");
        })();
      }
      return echoScript(request);
    };
    await pipeline.generate(user("Write a haiku"));
    await expect(
      pipeline.generate(user("busy: write a poem", { route: { baseOnly: true } })),
    ).rejects.toThrow(/too many/);
    const text = await metrics.metrics();
    expect(sample(text, "herd_backend_errors_total", { kind: "model_not_found" })).toBe(1);
    expect(sample(text, "herd_backend_errors_total", { kind: "rate_limited" })).toBe(1);
    expect(sample(text, "herd_routing_decisions_total", { expert: "creative", reason: "fallback" })).toBe(1);
    expect(
      sample(text, "herd_requests_total", { model: "llama3.2", expert: "creative", status: "200" }),
    ).toBe(1);
    expect(sample(text, "herd_requests_total", { expert: "none", status: "429" })).toBe(1);
    expect(
      sample(text, "gen_ai_server_request_duration_seconds_count", { error_type: "provider_error" }),
    ).toBe(1);
    expect(sample(text, "herd_requests_in_flight")).toBe(0);
    expect(metrics.recent().map((d) => [d.reason, d.status])).toEqual([
      ["base-only", "429"],
      ["fallback", "200"],
    ]);
  });

  it("gives back the in-flight slot of a stream the caller abandons, counted as 499", async () => {
    const metrics = metricsPlugin();
    const { pipeline } = pipelineWith([metrics]);
    const stream = await pipeline.stream(user("Write a Python function"));
    expect(sample(await metrics.metrics(), "herd_requests_in_flight")).toBe(1);
    for await (const _ of stream) break;
    const text = await metrics.metrics();
    expect(sample(text, "herd_requests_in_flight")).toBe(0);
    expect(sample(text, "herd_requests_total", { expert: "code", status: "499" })).toBe(1);
  });

  it("labels an unknown requested model as other, so callers cannot grow the label set", async () => {
    const metrics = metricsPlugin();
    const { pipeline } = pipelineWith([metrics]);
    await pipeline.generate(user("Write a Python function", { model: "gpt-4o-anything" }));
    await pipeline.generate(user("Write a Python function", { model: "herd-code" }));
    const text = await metrics.metrics();
    expect(
      sample(text, "gen_ai_server_request_duration_seconds_count", { gen_ai_request_model: "other" }),
    ).toBe(1);
    expect(
      sample(text, "gen_ai_server_request_duration_seconds_count", { gen_ai_request_model: "herd-code" }),
    ).toBe(1);
    expect(text).not.toContain("gpt-4o-anything");
  });

  it("measures time to first token on successful answers with a token only", async () => {
    const metrics = metricsPlugin();
    const { pipeline, provider } = pipelineWith([metrics]);
    provider.script = (request: ChatRequest): AsyncIterable<ChatChunk> => {
      const last = request.messages.at(-1)!.content;
      if (last.includes("empty")) {
        return (async function* () {
          yield { type: "finish", finishReason: "stop", usage: { inputTokens: 3, outputTokens: 0 } };
        })();
      }
      if (last.includes("breaks")) {
        return (async function* () {
          yield { type: "text", text: "half an answer" };
          throw new ProviderResponseError("the backend died mid-answer", 500);
        })();
      }
      return echoScript(request);
    };
    await pipeline.generate(user("Write a Python function: empty"));
    await expect(pipeline.generate(user("Write a Python function: breaks"))).rejects.toThrow(/died/);
    await pipeline.generate(user("Write a Python function"));
    const text = await metrics.metrics();
    const code = { herd_expert: "code" };
    expect(sample(text, "gen_ai_server_request_duration_seconds_count", code)).toBe(2);
    expect(sample(text, "gen_ai_server_time_to_first_token_seconds_count", code)).toBe(1);
  });

  it("labels a blend by its experts' names, whatever their rank, so rankings cannot grow the label set", async () => {
    const metrics = metricsPlugin();
    const ranks = (text: string) =>
      text.startsWith("poem")
        ? { creative: 0.9, code: 0.8, math: 0.1 }
        : { code: 0.9, creative: 0.8, math: 0.1 };
    const { pipeline } = pipelineWith([metrics], ranks);
    await pipeline.generate(user("poem with some code", { topExperts: 2 }));
    await pipeline.generate(user("code with a poem in it", { topExperts: 2 }));
    const text = await metrics.metrics();
    expect(sample(text, "herd_routing_decisions_total", { expert: "code+creative" })).toBe(2);
    expect(sample(text, "herd_requests_total", { expert: "code+creative", status: "200" })).toBe(2);
    expect(text).not.toContain('expert="creative+code"');
  });

  it("drops a malformed usage count instead of turning the token sums into NaN for good", async () => {
    const metrics = metricsPlugin();
    const { pipeline, provider } = pipelineWith([metrics]);
    provider.script = async function* (request: ChatRequest): AsyncGenerator<ChatChunk> {
      yield { type: "text", text: "ok" };
      const broken = request.messages.at(-1)!.content.includes("broken");
      yield {
        type: "finish",
        finishReason: "stop",
        usage: { inputTokens: broken ? Number("n/a") : 10, outputTokens: 2 },
      };
    };
    await pipeline.generate(user("Write a Python function, broken usage"));
    await pipeline.generate(user("Write a Python function"));
    const text = await metrics.metrics();
    const input = { herd_expert: "code", gen_ai_token_type: "input" };
    expect(sample(text, "gen_ai_client_token_usage_sum", input)).toBe(10);
    expect(sample(text, "gen_ai_client_token_usage_count", input)).toBe(1);
    expect(sample(text, "gen_ai_client_token_usage_count", { ...input, gen_ai_token_type: "output" })).toBe(
      2,
    );
  });

  it("keeps a bounded list of recent decisions, newest first", async () => {
    const metrics = new MetricsPlugin({ processMetrics: false, recent: 2 });
    const { pipeline } = pipelineWith([metrics]);
    await pipeline.generate(user("Write a Python function"));
    await pipeline.generate(user("Write a haiku"));
    await pipeline.generate(user("What is 2+2?"));
    const recent = metrics.recent();
    expect(recent.map((d) => d.experts.map((e) => e.name))).toEqual([["math"], ["creative"]]);
    expect(recent[0]).toMatchObject({ model: "herd-math", reason: "routed", status: "200" });
  });

  it("exports Node process metrics unless turned off", async () => {
    expect(await new MetricsPlugin().metrics()).toMatch(/process_cpu_user_seconds_total|nodejs_heap_size/);
    expect(await metricsPlugin().metrics()).not.toMatch(/nodejs_heap_size/);
  });
});
