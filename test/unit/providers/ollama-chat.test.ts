import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpResponse, http, passthrough } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ChatChunk, ChatRequest } from "../../../src/core/chat.js";
import {
  AbortError,
  ModelNotFoundError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../../src/core/errors.js";
import { OllamaChatProvider } from "../../../src/providers/chat/ollama.js";
import {
  type ChatReply,
  chatStream,
  modelNotFound,
  ndjsonResponse,
  OLLAMA_URL,
  ollamaChatMock,
  ollamaError,
  readFixture,
} from "../../fixtures/ollama/ollama-mock.js";

let reply: ChatReply = () => ndjsonResponse(readFixture("chat-stream.ndjson"));
const mock = ollamaChatMock((body, request) => reply(body, request), OLLAMA_URL, [
  "herd-code",
  "llama3.2:3b",
]);
const server = setupServer(...mock.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => {
  mock.requests.length = 0;
  server.resetHandlers();
});
afterAll(() => server.close());

const provider = new OllamaChatProvider({ baseUrl: OLLAMA_URL });

function request(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    target: { model: "herd-code", adapters: [], base: false },
    messages: [{ role: "user", content: "Why is the sky blue?" }],
    params: {},
    ...overrides,
  };
}

async function collect(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const chunks: ChatChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe("OllamaChatProvider", () => {
  it("streams the documented /api/chat reply as text chunks and one finish with usage", async () => {
    reply = () => ndjsonResponse(readFixture("chat-stream.ndjson"));
    const chunks = await collect(provider.stream(request()));
    expect(chunks).toEqual([
      { type: "text", text: "The" },
      { type: "text", text: " sky" },
      { type: "finish", finishReason: "stop", usage: { inputTokens: 26, outputTokens: 282 } },
    ]);
    expect(mock.requests[0]).toEqual({
      model: "herd-code",
      messages: [{ role: "user", content: "Why is the sky blue?" }],
      stream: true,
    });
  });

  it("maps sampling params to Ollama options and merges the provider's default options", async () => {
    const tuned = new OllamaChatProvider({
      baseUrl: OLLAMA_URL,
      options: { num_ctx: 8192, top_k: 10 },
      keepAlive: "10m",
    });
    await collect(
      tuned.stream(
        request({
          params: {
            temperature: 0.2,
            topK: 20,
            topP: 0.5,
            repetitionPenalty: 1.2,
            stop: ["\n\n"],
            maxTokens: 64,
            seed: 7,
          },
        }),
      ),
    );
    expect(mock.requests[0]).toMatchObject({
      keep_alive: "10m",
      options: {
        num_ctx: 8192,
        temperature: 0.2,
        top_k: 20,
        top_p: 0.5,
        repeat_penalty: 1.2,
        stop: ["\n\n"],
        num_predict: 64,
        seed: 7,
      },
    });
  });

  it("sends tools, tool-call history with object arguments, tool results and a JSON schema format", async () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    await collect(
      provider.stream(
        request({
          messages: [
            { role: "user", content: "Weather in Tokyo?" },
            {
              role: "assistant",
              content: "",
              toolCalls: [{ id: "call_k3x9a1b2", name: "get_weather", arguments: { city: "Tokyo" } }],
            },
            { role: "tool", content: "11 degrees celsius", name: "get_weather", toolCallId: "call_k3x9a1b2" },
          ],
          tools: [{ name: "get_weather", description: "Current weather", parameters: schema }],
          responseFormat: { type: "json_schema", schema },
        }),
      ),
    );
    const body = mock.requests[0]!;
    expect(body.tools).toEqual([
      {
        type: "function",
        function: { name: "get_weather", description: "Current weather", parameters: schema },
      },
    ]);
    expect(body.messages[1]).toEqual({
      role: "assistant",
      content: "",
      tool_calls: [{ id: "call_k3x9a1b2", function: { name: "get_weather", arguments: { city: "Tokyo" } } }],
    });
    expect(body.messages[2]).toEqual({
      role: "tool",
      content: "11 degrees celsius",
      tool_name: "get_weather",
      tool_call_id: "call_k3x9a1b2",
    });
    expect(body.format).toEqual(schema);
  });

  it("honours tool choice: none drops the tools, a named tool sends only it and forces a call of it", async () => {
    const tools = [
      { name: "a", parameters: { type: "object" } },
      { name: "b", parameters: { type: "object" } },
    ];
    await collect(provider.stream(request({ tools, toolChoice: "none", responseFormat: { type: "json" } })));
    reply = () => ndjsonResponse(chatStream(['{"name": "b", "arguments": {}}']));
    const chunks = await collect(provider.stream(request({ tools, toolChoice: { name: "b" } })));
    expect(mock.requests[0]!.tools).toBeUndefined();
    expect(mock.requests[0]!.format).toBe("json");
    expect(mock.requests[1]!.tools?.map((t) => t.function.name)).toEqual(["b"]);
    expect(chunks.filter((c) => c.type === "tool-call").map((c) => c.name)).toEqual(["b"]);
  });

  it("turns a documented tool-call line into a tool-call chunk and finishes with tool_calls", async () => {
    reply = () => ndjsonResponse(readFixture("chat-tool-call.ndjson"));
    const chunks = await collect(provider.stream(request()));
    expect(chunks).toEqual([
      {
        type: "tool-call",
        index: 0,
        id: "call_k3x9a1b2",
        name: "get_weather",
        argumentsDelta: '{"city":"Tokyo"}',
      },
      { type: "finish", finishReason: "tool_calls", usage: { inputTokens: 169, outputTokens: 15 } },
    ]);
  });

  it("numbers parallel tool calls in one line by position", async () => {
    reply = () => ndjsonResponse(readFixture("chat-parallel-tool-calls.ndjson"));
    const chunks = await collect(provider.stream(request()));
    const calls = chunks.filter((c) => c.type === "tool-call");
    expect(calls.map((c) => [c.index, c.id, c.argumentsDelta])).toEqual([
      [0, "call_k3x9a1b2", '{"city":"Tokyo"}'],
      [1, "call_p7m2q8z4", '{"city":"Paris"}'],
    ]);
  });

  it("gives calls without an id (Ollama before v0.12.10) a generated one", async () => {
    reply = () =>
      ndjsonResponse(
        chatStream([], { toolCalls: [{ id: "", name: "get_weather", arguments: { city: "Oslo" } }] }).replace(
          '"id":"",',
          "",
        ),
      );
    const chunks = await collect(provider.stream(request()));
    expect(chunks[0]).toMatchObject({
      type: "tool-call",
      name: "get_weather",
      id: expect.stringMatching(/^call_/),
    });
  });

  it("reports done_reason length as finish reason length", async () => {
    reply = () => ndjsonResponse(readFixture("chat-length.ndjson"));
    const chunks = await collect(provider.stream(request({ params: { maxTokens: 1 } })));
    expect(chunks.at(-1)).toMatchObject({ type: "finish", finishReason: "length" });
  });

  it("lists the models Ollama has from GET /api/tags", async () => {
    expect(await provider.listModels()).toEqual(["herd-code:latest", "llama3.2:3b"]);
  });

  it("throws ModelNotFoundError naming the model and `herd build` on a 404", async () => {
    reply = (body) => modelNotFound(body.model);
    const error = await collect(provider.stream(request())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as ModelNotFoundError).model).toBe("herd-code");
    expect((error as Error).message).toMatch(/herd-code/);
    expect((error as Error).message).toMatch(/herd build/);
  });

  it("tells to pull a missing base model, and to build a missing Herd model", async () => {
    reply = (body) => modelNotFound(body.model);
    const base = request({ target: { model: "llama3.2:3b", adapters: [], base: true } });
    const error = await collect(provider.stream(base)).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/`ollama pull llama3\.2:3b`/);
    expect((error as Error).message).not.toMatch(/herd build/);
  });

  it("names Ollama's address when the connection drops mid-answer", async () => {
    // A real server on loopback: it sends one line, then drops the connection (msw cannot).
    const first = `${readFixture("chat-stream.ndjson").split("\n")[0]}\n`;
    const crashing = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/x-ndjson" });
      res.write(first, () => setTimeout(() => res.socket?.destroy(), 20));
    });
    await new Promise<void>((resolve) => crashing.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(crashing.address() as AddressInfo).port}`;
    server.use(http.post(`${url}/api/chat`, () => passthrough()));
    try {
      const chunks: ChatChunk[] = [];
      const error = await (async () => {
        for await (const chunk of new OllamaChatProvider({ baseUrl: url }).stream(request()))
          chunks.push(chunk);
      })().catch((e: unknown) => e);
      expect(chunks).toEqual([{ type: "text", text: "The" }]);
      expect(error).toBeInstanceOf(ProviderUnavailableError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^Ollama at ${url.replace(/\./g, "\\.")} closed the connection while generating with "herd-code"`,
        ),
      );
    } finally {
      crashing.closeAllConnections();
      await new Promise((resolve) => crashing.close(resolve));
    }
  });

  it("keeps a path prefix of the Ollama URL (behind a reverse proxy)", async () => {
    const prefixed = ollamaChatMock(
      () => ndjsonResponse(chatStream(["ok"])),
      "http://127.0.0.1:11434/ollama",
    );
    server.use(...prefixed.handlers);
    const behindProxy = new OllamaChatProvider({ baseUrl: "http://127.0.0.1:11434/ollama" });
    await behindProxy.health();
    expect(await collect(behindProxy.stream(request()))).toContainEqual({ type: "text", text: "ok" });
    expect(prefixed.requests).toHaveLength(1);
  });

  it("throws ProviderResponseError with Ollama's message on a 400 before streaming", async () => {
    reply = () => ollamaError(400, "registry.ollama.ai/library/gemma2:latest does not support tools");
    const error = await collect(provider.stream(request())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as ProviderResponseError).providerStatus).toBe(400);
    expect((error as Error).message).toMatch(/does not support tools/);
  });

  it("throws ProviderUnavailableError naming the URL when Ollama cannot be reached", async () => {
    server.use(http.post(`${OLLAMA_URL}/api/chat`, () => HttpResponse.error()));
    const error = await collect(provider.stream(request())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toContain(OLLAMA_URL);
    expect((error as Error).message).toMatch(/ollama serve/);
  });

  it("raises a mid-stream {error} line from the iterator after the chunks before it", async () => {
    reply = () => ndjsonResponse(readFixture("chat-error-midstream.ndjson"));
    const seen: ChatChunk[] = [];
    const error = await (async () => {
      for await (const chunk of provider.stream(request())) seen.push(chunk);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([{ type: "text", text: "The" }]);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as Error).message).toMatch(/an error was encountered while running the model/);
  });

  it("fails clearly when the stream ends before the done line", async () => {
    reply = () => ndjsonResponse(readFixture("chat-stream.ndjson").split("\n").slice(0, 2).join("\n"));
    await expect(collect(provider.stream(request()))).rejects.toThrow(/before its final "done" line/);
  });

  it("stops reading and throws AbortError when the signal fires mid-stream", async () => {
    let releaseBody!: () => void;
    const held = new Promise<void>((resolve) => {
      releaseBody = resolve;
    });
    reply = () =>
      ndjsonResponse(readFixture("chat-stream.ndjson").split("\n")[0]!.concat("\n"), { holdOpen: held });
    const controller = new AbortController();
    const seen: ChatChunk[] = [];
    const error = await (async () => {
      for await (const chunk of provider.stream(request(), { signal: controller.signal })) {
        seen.push(chunk);
        controller.abort();
      }
    })().catch((e: unknown) => e);
    releaseBody();
    expect(seen).toEqual([{ type: "text", text: "The" }]);
    expect(error).toBeInstanceOf(AbortError);
  });

  it("checks health with GET /", async () => {
    await expect(provider.health()).resolves.toBeUndefined();
    server.use(http.get(`${OLLAMA_URL}/`, () => HttpResponse.error()));
    await expect(provider.health()).rejects.toBeInstanceOf(ProviderUnavailableError);
  });
});
