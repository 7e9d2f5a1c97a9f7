import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ChatChunk, ChatRequest, ToolDefinition } from "../../../src/core/chat.js";
import { ModelNotFoundError, ProviderResponseError } from "../../../src/core/errors.js";
import { OllamaChatProvider } from "../../../src/providers/chat/ollama.js";
import {
  type ChatReply,
  chatStream,
  modelNotFound,
  ndjsonResponse,
  OLLAMA_URL,
  ollamaChatMock,
  readFixture,
} from "../../fixtures/ollama/ollama-mock.js";

/** The request/response mapping of the Ollama provider: forced tools, penalties, logprobs, parallel calls. */

let reply: ChatReply = () => ndjsonResponse(readFixture("chat-stream.ndjson"));
const mock = ollamaChatMock((body, request) => reply(body, request));
const server = setupServer(...mock.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => {
  mock.requests.length = 0;
});
afterAll(() => server.close());

const provider = new OllamaChatProvider({ baseUrl: OLLAMA_URL });

const weather: ToolDefinition = {
  name: "get_weather",
  description: "The weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};
const time: ToolDefinition = {
  name: "get_time",
  parameters: { type: "object", properties: { tz: { type: "string" } }, required: ["tz"] },
};

function request(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    target: { model: "herd-code", adapters: [], base: false },
    messages: [{ role: "user", content: "Weather in Tokyo?" }],
    params: {},
    ...overrides,
  };
}

async function collect(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const chunks: ChatChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** Stream lines with per-line logprobs, fields in the order Ollama's Go structs write them. */
function logprobStream(pieces: { content: string; logprob: number; top: [string, number][] }[]): string {
  const lines = pieces.map((p, i) =>
    JSON.stringify({
      model: "herd-code",
      created_at: `2025-07-07T20:22:19.10${i}Z`,
      message: { role: "assistant", content: p.content },
      done: false,
      logprobs: [
        {
          token: p.content,
          logprob: p.logprob,
          top_logprobs: p.top.map(([token, logprob]) => ({ token, logprob })),
        },
      ],
    }),
  );
  const last = chatStream([], { model: "herd-code", evalCount: pieces.length }).trim();
  return `${[...lines, last].join("\n")}\n`;
}

describe("Ollama request mapping", () => {
  it('tool_choice "required" constrains the answer to a call of one of the tools (format) and reads it back', async () => {
    reply = () => ndjsonResponse(chatStream(['{"name": "get_time",', ' "arguments": {"tz": "Asia/Tokyo"}}']));
    const chunks = await collect(
      provider.stream(request({ tools: [weather, time], toolChoice: "required" })),
    );
    const body = mock.requests[0]!;
    expect(body.tools?.map((t) => t.function.name)).toEqual(["get_weather", "get_time"]);
    expect(body.format).toEqual({
      anyOf: [
        {
          type: "object",
          properties: { name: { const: "get_weather" }, arguments: weather.parameters },
          required: ["name", "arguments"],
          additionalProperties: false,
        },
        {
          type: "object",
          properties: { name: { const: "get_time" }, arguments: time.parameters },
          required: ["name", "arguments"],
          additionalProperties: false,
        },
      ],
    });
    expect(chunks.filter((c) => c.type === "text")).toEqual([]);
    expect(chunks).toEqual([
      expect.objectContaining({
        type: "tool-call",
        index: 0,
        name: "get_time",
        argumentsDelta: '{"tz":"Asia/Tokyo"}',
      }),
      { type: "finish", finishReason: "tool_calls", usage: { inputTokens: 26, outputTokens: 2 } },
    ]);
  });

  it("a forced call that Ollama's own tool parser caught arrives as a tool call as well", async () => {
    reply = () => ndjsonResponse(readFixture("chat-tool-call.ndjson"));
    const chunks = await collect(
      provider.stream(request({ tools: [weather], toolChoice: { name: "get_weather" } })),
    );
    expect(mock.requests[0]!.format).toMatchObject({ properties: { name: { const: "get_weather" } } });
    expect(chunks.filter((c) => c.type === "tool-call").map((c) => c.name)).toEqual(["get_weather"]);
    expect(chunks.at(-1)).toMatchObject({ finishReason: "tool_calls" });
  });

  it("a forced call cut off by the token limit is closed into valid JSON and finishes with length", async () => {
    reply = () =>
      ndjsonResponse(
        chatStream(['{"name": "get_weather", "arguments": {"city": "Tok'], { doneReason: "length" }),
      );
    const chunks = await collect(
      provider.stream(request({ tools: [weather], toolChoice: "required", params: { maxTokens: 12 } })),
    );
    expect(chunks[0]).toMatchObject({ type: "tool-call", argumentsDelta: '{"city":"Tok"}' });
    expect(chunks.at(-1)).toMatchObject({ type: "finish", finishReason: "length" });
  });

  it("an answer that is not the forced call is an error, never a silent text", async () => {
    reply = () => ndjsonResponse(chatStream(["It is sunny."]));
    await expect(
      collect(provider.stream(request({ tools: [weather], toolChoice: "required" }))),
    ).rejects.toThrow(ProviderResponseError);
  });

  it('tool_choice "auto" sends the tools without a format; "none" sends none', async () => {
    await collect(provider.stream(request({ tools: [weather], toolChoice: "auto" })));
    await collect(provider.stream(request({ tools: [weather], toolChoice: "none" })));
    expect(mock.requests[0]!.tools).toHaveLength(1);
    expect(mock.requests[0]!.format).toBeUndefined();
    expect(mock.requests[1]!.tools).toBeUndefined();
  });

  it("parallelToolCalls false keeps the first of several calls", async () => {
    reply = () => ndjsonResponse(readFixture("chat-parallel-tool-calls.ndjson"));
    const chunks = await collect(provider.stream(request({ tools: [weather], parallelToolCalls: false })));
    const calls = chunks.filter((c) => c.type === "tool-call");
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ id: "call_k3x9a1b2", argumentsDelta: '{"city":"Tokyo"}' });
  });

  it("presence and frequency penalties go to Ollama's options", async () => {
    await collect(
      provider.stream(
        request({ params: { presencePenalty: 0.5, frequencyPenalty: -0.25, repetitionPenalty: 1.1 } }),
      ),
    );
    expect(mock.requests[0]!.options).toEqual({
      presence_penalty: 0.5,
      frequency_penalty: -0.25,
      repeat_penalty: 1.1,
    });
  });

  it("logprobs and top_logprobs are asked for and come back on the text chunks", async () => {
    reply = () =>
      ndjsonResponse(
        logprobStream([
          {
            content: "Hi",
            logprob: -0.01,
            top: [
              ["Hi", -0.01],
              ["Hello", -4.6],
            ],
          },
          {
            content: "!",
            logprob: -0.2,
            top: [
              ["!", -0.2],
              [".", -1.7],
            ],
          },
        ]),
      );
    const chunks = await collect(provider.stream(request({ params: { logprobs: true, topLogprobs: 2 } })));
    expect(mock.requests[0]).toMatchObject({ logprobs: true, top_logprobs: 2 });
    expect(chunks.filter((c) => c.type === "text")).toEqual([
      {
        type: "text",
        text: "Hi",
        logprobs: [
          {
            token: "Hi",
            logprob: -0.01,
            topLogprobs: [
              { token: "Hi", logprob: -0.01 },
              { token: "Hello", logprob: -4.6 },
            ],
          },
        ],
      },
      {
        type: "text",
        text: "!",
        logprobs: [
          {
            token: "!",
            logprob: -0.2,
            topLogprobs: [
              { token: "!", logprob: -0.2 },
              { token: ".", logprob: -1.7 },
            ],
          },
        ],
      },
    ]);
  });

  it("without logprobs the request asks for none", async () => {
    await collect(provider.stream(request()));
    expect(mock.requests[0]!.logprobs).toBeUndefined();
    expect(mock.requests[0]!.top_logprobs).toBeUndefined();
  });

  it("a missing Herd model is a 503 model_not_built naming herd build; a missing base model says ollama pull", async () => {
    reply = (body) => modelNotFound(body.model);
    const expert = await collect(provider.stream(request())).catch((e: unknown) => e);
    expect(expert).toBeInstanceOf(ModelNotFoundError);
    expect(expert).toMatchObject({ status: 503, code: "model_not_built" });
    expect((expert as Error).message).toMatch(/herd-code.*herd build/);
    const base = await collect(
      provider.stream(request({ target: { model: "llama3.2:3b", adapters: [], base: true } })),
    ).catch((e: unknown) => e);
    expect(base).toMatchObject({ status: 503, code: "model_not_pulled" });
    expect((base as Error).message).toContain("ollama pull llama3.2:3b");
  });
});
