import http from "node:http";
import type { AddressInfo } from "node:net";
import { ChatOpenAI } from "@langchain/openai";
import { HttpResponse } from "msw";
import { setupServer } from "msw/node";
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { HerdRoutingInfo as HerdInfo } from "../../src/core/routing-info.js";
import { createHerd, type Herd } from "../../src/herd.js";
import type { OllamaChatBody } from "../../src/providers/chat/ollama-messages.js";
import { createApp } from "../../src/server/app.js";
import {
  chatStream,
  ndjsonResponse,
  OLLAMA_URL,
  ollamaChatMock,
  readFixture,
} from "../fixtures/ollama/ollama-mock.js";
import { listen } from "../helpers/listen.js";
import { copyRepoExperts, type ExpertsCopy } from "../helpers/repo-experts.js";

/**
 * End to end: the official `openai` client and LangChain's ChatOpenAI against a listening `herd serve`
 * app (real Herd: hashing embedder, memory index, Ollama provider), with Ollama mocked by msw in this
 * process at the edge. Requests to the Herd server itself pass through msw untouched.
 */

type Reply = (body: OllamaChatBody, request: Request) => Response;
/** The default Ollama answer: names the model it ran, so tests can see where Herd sent the request. */
const echoModel: Reply = (body) =>
  ndjsonResponse(chatStream(["Answer", ` from ${body.model}`], { model: body.model }));
let reply: Reply = echoModel;
const ollama = ollamaChatMock((body, request) => reply(body, request));
const msw = setupServer(...ollama.handlers);
/**
 * The clients talk to the Herd server with the real fetch: msw only mocks Ollama. (Through msw's
 * pass-through, the openai client never sees the end of a stream it aborts after an error event.)
 */
const realFetch = globalThis.fetch;

let herd: Herd;
let server: Awaited<ReturnType<typeof listen>>;
let client: OpenAI;

let experts: ExpertsCopy | undefined;

beforeAll(async () => {
  msw.listen({ onUnhandledRequest: "bypass" });
  // Routing trains into the experts folder: a private copy keeps the working tree's experts/ untouched.
  experts = await copyRepoExperts();
  herd = await createHerd({
    expertsDir: experts.dir,
    provider: { name: "ollama", url: OLLAMA_URL },
    embedder: { name: "hashing" },
    index: { name: "memory" },
    concurrency: { generation: 64, queue: 256 },
  });
  server = await listen(createApp(herd, { logger: { error: () => {} } }));
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sk-test", maxRetries: 0, fetch: realFetch });
});
afterEach(() => {
  reply = echoModel;
  ollama.requests.length = 0;
});
afterAll(async () => {
  await server?.close();
  await herd?.close();
  await experts?.remove();
  msw.close();
});

const codePrompt = "Write a Python function that reverses a linked list in place.";

describe("openai client", () => {
  it("gets a routed, non-streaming completion with routing headers and the herd object", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "herd", messages: [{ role: "user", content: codePrompt }] })
      .withResponse();
    const sent = ollama.requests[0]!;
    const info = (data as unknown as { herd: HerdInfo }).herd;
    expect(data.choices[0]!.message.content).toBe(`Answer from ${sent.model}`);
    expect(data.choices[0]!.finish_reason).toBe("stop");
    expect(data.usage).toMatchObject({ prompt_tokens: 26, completion_tokens: 2, total_tokens: 28 });
    expect(response.headers.get("x-herd-model")).toBe(sent.model);
    expect(info.model).toBe(sent.model);
    expect(info.reason).toBe("routed");
    expect(info.experts[0]!.name).toBe("code");
    expect(sent.model).toBe("herd-code");
    expect(response.headers.get("x-herd-experts")).toBe("code=1.000");
    expect(info.ranked).toHaveLength(herd.experts.length);
    expect(sent.options).toMatchObject({ temperature: 0.5, top_k: 50, top_p: 1, repeat_penalty: 1 });
  });

  it("forces an expert with herd:<expert> and skips routing with the base model", async () => {
    const forced = await client.chat.completions.create({
      model: "herd:creative",
      messages: [{ role: "user", content: codePrompt }],
    });
    expect(forced.choices[0]!.message.content).toBe("Answer from herd-creative");
    const base = await client.chat.completions.create({
      model: herd.baseModel,
      messages: [{ role: "user", content: codePrompt }],
    });
    expect(base.choices[0]!.message.content).toBe(`Answer from ${herd.baseModel}`);
  });

  it("streams: routing in the first chunk, content deltas, usage, then the end", async () => {
    const stream = await client.chat.completions.create({
      model: "herd",
      messages: [{ role: "user", content: codePrompt }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect((chunks[0] as unknown as { herd: HerdInfo }).herd.experts[0]!.name).toBe("code");
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe("Answer from herd-code");
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe("stop");
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 26, completion_tokens: 2, total_tokens: 28 });
  });

  it("passes tools to Ollama and returns its tool calls, streamed and not", async () => {
    reply = () =>
      ndjsonResponse(
        chatStream([], {
          toolCalls: [{ id: "call_k3x9a1b2", name: "get_weather", arguments: { city: "Tokyo" } }],
        }),
      );
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "The weather in a city",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    ];
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "Weather in Tokyo?" }];
    const done = await client.chat.completions.create({ model: "herd", messages, tools });
    expect(done.choices[0]!.finish_reason).toBe("tool_calls");
    expect(done.choices[0]!.message.tool_calls).toEqual([
      {
        id: "call_k3x9a1b2",
        type: "function",
        function: { name: "get_weather", arguments: '{"city":"Tokyo"}' },
      },
    ]);
    expect(ollama.requests[0]!.tools?.[0]).toMatchObject({
      type: "function",
      function: { name: "get_weather" },
    });

    const runner = client.chat.completions.stream({ model: "herd", messages, tools });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls?.[0]).toMatchObject({
      id: "call_k3x9a1b2",
      function: { name: "get_weather", arguments: '{"city":"Tokyo"}' },
    });

    // The tool result goes back with the call echoed; Ollama gets the tool's name.
    reply = echoModel;
    await client.chat.completions.create({
      model: "herd",
      tools,
      messages: [
        ...messages,
        done.choices[0]!.message,
        { role: "tool", tool_call_id: "call_k3x9a1b2", content: "11 C" },
      ],
    });
    expect(ollama.requests.at(-1)!.messages.at(-1)).toMatchObject({
      role: "tool",
      content: "11 C",
      tool_name: "get_weather",
    });
  });

  it("surfaces errors as the client's typed errors", async () => {
    const create = (body: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming>) =>
      client.chat.completions.create({ model: "herd", messages: [{ role: "user", content: "hi" }], ...body });
    await expect(create({ model: "gpt-4o" })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const bad = await create({ temperature: 7 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("temperature");

    reply = () => HttpResponse.error();
    const down = await create({}).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(OpenAI.InternalServerError);
    expect((down as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((down as Error).message).toContain(OLLAMA_URL);

    // A Herd model missing on the backend is the server's problem (503 naming herd build), not the client's 404.
    reply = (body) => HttpResponse.json({ error: `model '${body.model}' not found` }, { status: 404 });
    const unbuilt = (await create({}).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(unbuilt).toBeInstanceOf(OpenAI.InternalServerError);
    expect(unbuilt).toMatchObject({ status: 503, code: "model_not_built" });
    expect(unbuilt.message).toContain("herd build");
    expect(unbuilt.requestID).toMatch(/^req_/);
  });

  it('tool_choice "required" yields a tool call, n: 2 two choices, and parse() a zod-typed answer', async () => {
    const tool: OpenAI.ChatCompletionTool = {
      type: "function",
      function: {
        name: "get_weather",
        parameters: { type: "object", properties: { city: { type: "string" } } },
      },
    };
    // Ollama constrained by `format` answers with JSON that follows it.
    reply = (body) =>
      ndjsonResponse(
        chatStream([
          body.tools
            ? '{"name": "get_weather", "arguments": {"city": "Tokyo"}}'
            : '{"city": "Tokyo", "celsius": 11}',
        ]),
      );
    const forced = await client.chat.completions.create({
      model: "herd",
      messages: [{ role: "user", content: "Weather in Tokyo?" }],
      tools: [tool],
      tool_choice: "required",
    });
    expect(forced.choices[0]!.finish_reason).toBe("tool_calls");
    expect(forced.choices[0]!.message.tool_calls).toHaveLength(1);

    const two = await client.chat.completions.create({
      model: "herd",
      messages: [{ role: "user", content: "hi" }],
      n: 2,
    });
    expect(two.choices.map((c) => c.index)).toEqual([0, 1]);

    const Weather = z.object({ city: z.string(), celsius: z.number() });
    const parsed = await client.chat.completions.parse({
      model: "herd",
      messages: [{ role: "user", content: "Weather in Tokyo?" }],
      response_format: zodResponseFormat(Weather, "weather"),
    });
    expect(parsed.choices[0]!.message.parsed).toEqual({ city: "Tokyo", celsius: 11 });
    expect(ollama.requests.at(-1)!.format).toMatchObject({ properties: { city: { type: "string" } } });
  });

  it("throws an APIError when the backend fails after the stream started", async () => {
    reply = () => ndjsonResponse(readFixture("chat-error-midstream.ndjson"));
    const stream = await client.chat.completions.create({
      model: "herd",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    const read = async () => {
      for await (const _ of stream) {
        // reading until the error event
      }
    };
    await expect(read()).rejects.toThrow(/an error was encountered while running the model/);
  });

  it("aborts the Ollama request when the client stops reading a stream", async () => {
    // A real Ollama stand-in on loopback (not msw), so the test sees the upstream connection close.
    let closed!: () => void;
    const upstreamClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const fake = http.createServer((req, res) => {
      if (req.url !== "/api/chat") {
        res.end("Ollama is running");
        return;
      }
      res.setHeader("content-type", "application/x-ndjson");
      res.write(`${chatStream(["first"]).split("\n")[0]}\n`);
      res.on("close", closed);
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    const port = (fake.address() as AddressInfo).port;
    const local = await createHerd({
      expertsDir: experts!.dir,
      provider: { name: "ollama", url: `http://127.0.0.1:${port}` },
      plugins: [],
    });
    const app = await listen(createApp(local, { logger: { error: () => {} } }));
    try {
      const own = new OpenAI({
        baseURL: `${app.url}/v1`,
        apiKey: "sk-test",
        maxRetries: 0,
        fetch: realFetch,
      });
      const stream = await own.chat.completions.create({
        model: "herd",
        messages: [{ role: "user", content: "Tell me a very long story." }],
        stream: true,
      });
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content === "first") break;
      }
      await upstreamClosed;
    } finally {
      await app.close();
      await local.close();
      fake.closeAllConnections();
      await new Promise((resolve) => fake.close(resolve));
    }
  });

  it("requires the API key when one is configured", async () => {
    const locked = await listen(createApp(herd, { apiKey: "sk-herd-secret" }));
    try {
      const wrong = new OpenAI({
        baseURL: `${locked.url}/v1`,
        apiKey: "sk-other-key",
        maxRetries: 0,
        fetch: realFetch,
      });
      await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      const right = new OpenAI({
        baseURL: `${locked.url}/v1`,
        apiKey: "sk-herd-secret",
        maxRetries: 0,
        fetch: realFetch,
      });
      const ids = [];
      for await (const model of right.models.list()) ids.push(model.id);
      expect(ids).toEqual(["herd", ...herd.experts.map((e) => `herd:${e.name}`), herd.baseModel]);
    } finally {
      await locked.close();
    }
  });

  it("keeps 50 simultaneous streams apart through the real pipeline", async () => {
    reply = (body) => {
      const id = String(body.messages.at(-1)!.content);
      return ndjsonResponse(chatStream(Array.from({ length: 10 }, (_, t) => `<${id}:${t}>`)), {
        chunkSize: 7,
      });
    };
    const ids = Array.from({ length: 50 }, (_, i) => `stream-${i}`);
    const texts = await Promise.all(
      ids.map(async (id) => {
        const stream = await client.chat.completions.create({
          model: "herd",
          messages: [{ role: "user", content: id }],
          stream: true,
        });
        let text = "";
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
        return text;
      }),
    );
    ids.forEach((id, i) => {
      expect(texts[i]).toBe(Array.from({ length: 10 }, (_, t) => `<${id}:${t}>`).join(""));
    });
  });
});

describe("LangChain ChatOpenAI", () => {
  const model = () =>
    new ChatOpenAI({
      model: "herd",
      apiKey: "sk-test",
      maxRetries: 0,
      configuration: { baseURL: `${server.url}/v1`, fetch: realFetch },
    });

  it("invokes and streams through herd serve", async () => {
    const message = await model().invoke(codePrompt);
    expect(message.content).toBe("Answer from herd-code");
    expect(message.usage_metadata).toMatchObject({ input_tokens: 26, output_tokens: 2 });
    let streamed = "";
    for await (const chunk of await model().stream(codePrompt)) streamed += chunk.content;
    expect(streamed).toBe("Answer from herd-code");
  });

  it("calls tools with bindTools", async () => {
    reply = () =>
      ndjsonResponse(
        chatStream([], { toolCalls: [{ id: "call_a1", name: "get_weather", arguments: { city: "Paris" } }] }),
      );
    const weather = {
      name: "get_weather",
      description: "The weather in a city",
      schema: z.object({ city: z.string() }),
    };
    const message = await model().bindTools([weather]).invoke("Weather in Paris?");
    expect(message.tool_calls).toEqual([
      { id: "call_a1", name: "get_weather", args: { city: "Paris" }, type: "tool_call" },
    ]);
  });

  it("surfaces a bad model as an error", async () => {
    const missing = new ChatOpenAI({
      model: "no-such-model",
      apiKey: "sk-test",
      maxRetries: 0,
      configuration: { baseURL: `${server.url}/v1`, fetch: realFetch },
    });
    await expect(missing.invoke("hi")).rejects.toThrow(/does not exist/);
  });
});
