import { describe, expect, it } from "vitest";
import { OllamaBlendResolver } from "../../../src/core/blend-resolver.js";
import type { ChatChunk, ChatRequest } from "../../../src/core/chat.js";
import {
  ModelNotFoundError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../../src/core/errors.js";
import { Pipeline } from "../../../src/core/pipeline.js";
import { FallbackPlugin } from "../../../src/plugins/fallback.js";
import { RequestLoggingPlugin, type RequestLogRecord } from "../../../src/plugins/request-logging.js";
import { echoScript, FakeRouter, ScriptedProvider, testExperts } from "../../fixtures/herd/fakes.js";
import { pipelineWith, user } from "./helpers.js";

function failOn(model: string, error: () => Error) {
  return (request: ChatRequest): AsyncIterable<ChatChunk> =>
    request.target.model === model
      ? (async function* () {
          yield* [];
          throw error();
        })()
      : echoScript(request);
}

describe("fallback plugin", () => {
  it("retries once on the base model when the expert model fails, with a warning", async () => {
    const { pipeline, provider } = pipelineWith([new FallbackPlugin()]);
    provider.script = failOn(
      "herd-creative",
      () => new ModelNotFoundError("herd-creative", "model 'herd-creative' not found"),
    );
    const stream = await pipeline.stream(user("Write a haiku"));
    const response = await stream.collect();
    expect(provider.requests.map((r) => r.target.model)).toEqual(["herd-creative", "llama3.2"]);
    expect(stream.target).toEqual({ model: "llama3.2", adapters: [], base: true });
    expect(response.text).toBe("llama3.2: Write a haiku");
    expect(response.warnings.join()).toMatch(/"herd-creative" failed .* base model "llama3.2"/);
  });

  it("retries on the base as the resolver serves it (herd-base on Ollama when built)", async () => {
    const provider = new ScriptedProvider(
      failOn("herd-creative", () => new ModelNotFoundError("herd-creative", "gone")),
    );
    const resolver = new OllamaBlendResolver();
    await resolver.prepare({
      ...provider,
      capabilities: provider.capabilities,
      stream: provider.stream.bind(provider),
      health: async () => {},
      listModels: async () => ["herd-base:latest"],
    });
    const pipeline = new Pipeline({
      router: new FakeRouter(testExperts),
      resolver,
      provider,
      experts: testExperts,
      plugins: [new FallbackPlugin()],
    });
    const stream = await pipeline.stream(user("Write a haiku"));
    await stream.collect();
    expect(provider.requests.map((r) => r.target.model)).toEqual(["herd-creative", "herd-base"]);
    expect(stream.warnings.join()).toMatch(/base model "herd-base" answered instead/);
  });

  it("a recovered failure is not logged as an error by later plugins", async () => {
    const records: RequestLogRecord[] = [];
    const { pipeline, provider } = pipelineWith([
      new FallbackPlugin(),
      new RequestLoggingPlugin({ log: (r) => records.push(r) }),
    ]);
    provider.script = failOn("herd-creative", () => new ModelNotFoundError("herd-creative", "gone"));
    await (await pipeline.stream(user("Write a haiku"))).collect();
    expect(records.map((r) => r.event)).toEqual(["response"]);
  });

  it("does not retry when the base model itself fails", async () => {
    const { pipeline, provider } = pipelineWith([new FallbackPlugin()]);
    provider.script = failOn("llama3.2", () => new ProviderResponseError("boom", 500));
    await expect(
      pipeline.stream(user("hi", { model: "llama3.2", route: { baseOnly: true } })),
    ).rejects.toThrow("boom");
    expect(provider.requests).toHaveLength(1);
  });

  it("retries only once: a failing base after a failing expert surfaces the base's error", async () => {
    const { pipeline, provider } = pipelineWith([new FallbackPlugin()]);
    provider.script = async function* () {
      yield* [];
      throw new ProviderResponseError("everything is down", 500);
    };
    await expect(pipeline.stream(user("Write a haiku"))).rejects.toThrow("everything is down");
    expect(provider.requests).toHaveLength(2);
  });

  it("leaves an unreachable backend alone unless onUnavailable is set", async () => {
    const unreachable = () => new ProviderUnavailableError("Cannot reach Ollama", "http://127.0.0.1:11434");
    const plain = pipelineWith([new FallbackPlugin()]);
    plain.provider.script = failOn("herd-creative", unreachable);
    await expect(plain.pipeline.stream(user("Write a haiku"))).rejects.toBeInstanceOf(
      ProviderUnavailableError,
    );
    const eager = pipelineWith([new FallbackPlugin({ onUnavailable: true })]);
    eager.provider.script = failOn("herd-creative", unreachable);
    expect((await eager.pipeline.generate(user("Write a haiku"))).model).toBe("llama3.2");
  });

  it("does not retry after tokens were sent", async () => {
    const { pipeline, provider } = pipelineWith([new FallbackPlugin()]);
    provider.script = async function* () {
      yield { type: "text", text: "partial" };
      throw new ProviderResponseError("an error was encountered while running the model");
    };
    const stream = await pipeline.stream(user("Write a haiku"));
    await expect(stream.collect()).rejects.toThrow(/running the model/);
    expect(provider.requests).toHaveLength(1);
  });
});
