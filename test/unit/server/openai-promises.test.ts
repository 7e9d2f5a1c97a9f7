import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHerd, type Herd } from "../../../src/herd.js";
import { createApp } from "../../../src/server/app.js";
import {
  type ChatReply,
  chatStream,
  modelNotFound,
  ndjsonResponse,
  OLLAMA_URL,
  ollamaChatMock,
  readFixture,
} from "../../fixtures/ollama/ollama-mock.js";
import { listen } from "../../helpers/listen.js";
import { copyRepoExperts, type ExpertsCopy } from "../../helpers/repo-experts.js";

/**
 * The OpenAI promises the facade keeps (forced tools, n, logprobs, penalties, legacy functions,
 * error ids and codes), on a real Herd with Ollama mocked by msw at the edge.
 */

// biome-ignore lint/suspicious/noExplicitAny: the assertions read arbitrary JSON bodies
type Json = any;

const echo: ChatReply = (body) =>
  ndjsonResponse(chatStream(["Answer", ` from ${body.model}`], { model: body.model }));
let reply: ChatReply = echo;
const ollama = ollamaChatMock((body, request) => reply(body, request));
const msw = setupServer(...ollama.handlers);

let herd: Herd;
let fallbackHerd: Herd;
let servers: Awaited<ReturnType<typeof listen>>[] = [];
let experts: ExpertsCopy | undefined;

beforeAll(async () => {
  msw.listen({ onUnhandledRequest: "bypass" });
  // Routing trains into the experts folder: a private copy keeps the working tree's experts/ untouched.
  experts = await copyRepoExperts();
  const config = {
    expertsDir: experts.dir,
    provider: { name: "ollama", url: OLLAMA_URL },
    embedder: { name: "hashing" },
    index: { name: "memory" },
  } as const;
  herd = await createHerd(config);
  fallbackHerd = await createHerd({ ...config, plugins: ["fallback"] });
  servers = [await listen(createApp(herd, { logger: { error: () => {} } }))];
  servers.push(await listen(createApp(fallbackHerd, { logger: { error: () => {} } })));
});
afterEach(() => {
  reply = echo;
  ollama.requests.length = 0;
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await herd?.close();
  await fallbackHerd?.close();
  await experts?.remove();
  msw.close();
});

const post = (body: unknown, server = 0) =>
  fetch(`${servers[server]!.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const chat = (extra: Record<string, unknown> = {}) => ({
  model: "herd",
  messages: [{ role: "user", content: "What is the weather in Tokyo?" }],
  ...extra,
});
const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const timeTool = { type: "function", function: { name: "get_time", parameters: { type: "object" } } };

/** The JSON payloads of an SSE body, without [DONE]. */
async function events(res: Response): Promise<Json[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .map((e) => JSON.parse(e.slice(6)));
}

/** Ollama constrained to the forced-call format answers with that JSON as its content. */
const forcedAnswer: ChatReply = (body) => {
  const format = body.format as Json;
  const first = format.anyOf?.[0] ?? format;
  const name = first.properties.name.const as string;
  return ndjsonResponse(chatStream([`{"name": "${name}", "arguments": {"city": "Tokyo"}}`]));
};

describe("tool_choice", () => {
  it('"required" always yields a tool call with finish_reason tool_calls, in JSON and streamed', async () => {
    reply = forcedAnswer;
    const res = await post(chat({ tools: [weatherTool, timeTool], tool_choice: "required" }));
    const body: Json = await res.json();
    expect(body.choices[0].finish_reason).toBe("tool_calls");
    expect(body.choices[0].message.tool_calls[0].function).toEqual({
      name: "get_weather",
      arguments: '{"city":"Tokyo"}',
    });
    const stream = await events(
      await post(chat({ tools: [weatherTool], tool_choice: "required", stream: true })),
    );
    const deltas = stream.flatMap((e) => e.choices.map((c: Json) => c.delta.tool_calls?.[0])).filter(Boolean);
    expect(deltas[0]).toMatchObject({ index: 0, type: "function", function: { name: "get_weather" } });
    expect(stream.at(-1).choices[0].finish_reason).toBe("tool_calls");
  });

  it("allowed_tools narrows the tools; mode required forces one of them", async () => {
    reply = forcedAnswer;
    const res = await post(
      chat({
        tools: [weatherTool, timeTool],
        tool_choice: {
          type: "allowed_tools",
          allowed_tools: { mode: "required", tools: [{ type: "function", function: { name: "get_time" } }] },
        },
      }),
    );
    expect(res.status).toBe(200);
    expect(ollama.requests[0]!.tools?.map((t) => t.function.name)).toEqual(["get_time"]);
    expect(((await res.json()) as Json).choices[0].message.tool_calls[0].function.name).toBe("get_time");
  });

  it("parallel_tool_calls false yields at most one call", async () => {
    reply = () => ndjsonResponse(readFixture("chat-parallel-tool-calls.ndjson"));
    const body: Json = await (await post(chat({ tools: [weatherTool], parallel_tool_calls: false }))).json();
    expect(body.choices[0].message.tool_calls).toHaveLength(1);
    const all: Json = await (await post(chat({ tools: [weatherTool] }))).json();
    expect(all.choices[0].message.tool_calls).toHaveLength(2);
  });

  it("custom (free-form) tools get a 400 naming the field", async () => {
    const res = await post(chat({ tools: [{ type: "custom", custom: { name: "grammar" } }] }));
    expect(res.status).toBe(400);
    const error = ((await res.json()) as Json).error;
    expect(error.param).toBe("tools[0].type");
    expect(error.message).toMatch(/custom \(free-form\) tools are not supported/);
  });
});

describe("legacy functions", () => {
  it("functions/function_call are tools; the answer is a function_call with finish_reason function_call", async () => {
    reply = forcedAnswer;
    const res = await post(
      chat({ functions: [weatherTool.function], function_call: { name: "get_weather" } }),
    );
    const body: Json = await res.json();
    expect(ollama.requests[0]!.tools?.map((t) => t.function.name)).toEqual(["get_weather"]);
    expect(body.choices[0]).toMatchObject({
      finish_reason: "function_call",
      message: { function_call: { name: "get_weather", arguments: '{"city":"Tokyo"}' } },
    });
    expect(body.choices[0].message.tool_calls).toBeUndefined();
  });

  it("streamed, the legacy call arrives as function_call deltas", async () => {
    reply = forcedAnswer;
    const stream = await events(
      await post(
        chat({ functions: [weatherTool.function], function_call: { name: "get_weather" }, stream: true }),
      ),
    );
    const deltas = stream.flatMap((e) => e.choices.map((c: Json) => c.delta.function_call)).filter(Boolean);
    expect(deltas[0]).toEqual({ name: "get_weather", arguments: "" });
    expect(deltas.map((d: Json) => d.arguments).join("")).toBe('{"city":"Tokyo"}');
    expect(stream.flatMap((e) => e.choices.map((c: Json) => c.delta.tool_calls)).filter(Boolean)).toEqual([]);
    expect(stream.at(-1).choices[0].finish_reason).toBe("function_call");
  });

  it("an assistant function_call and a role function message reach Ollama as a tool call and its result", async () => {
    await post({
      model: "herd",
      functions: [weatherTool.function],
      messages: [
        { role: "user", content: "Weather in Tokyo?" },
        {
          role: "assistant",
          content: null,
          function_call: { name: "get_weather", arguments: '{"city":"Tokyo"}' },
        },
        { role: "function", name: "get_weather", content: "11 degrees" },
      ],
    });
    const messages = ollama.requests[0]!.messages;
    expect(messages[1]!.tool_calls?.[0]?.function).toEqual({
      name: "get_weather",
      arguments: { city: "Tokyo" },
    });
    expect(messages[2]).toMatchObject({ role: "tool", content: "11 degrees", tool_name: "get_weather" });
    expect(messages[2]!.tool_call_id).toBe(messages[1]!.tool_calls?.[0]?.id);
  });

  it("functions and tools together are a 400", async () => {
    const res = await post(chat({ functions: [weatherTool.function], tools: [weatherTool] }));
    expect(res.status).toBe(400);
  });
});

describe("n", () => {
  it("n: 2 runs two generations (seeds seed and seed+1) and returns two choices with summed usage", async () => {
    const res = await post(chat({ n: 2, seed: 7 }));
    const body: Json = await res.json();
    expect(body.choices.map((c: Json) => c.index)).toEqual([0, 1]);
    expect(ollama.requests.map((r) => r.options?.seed).sort()).toEqual([7, 8]);
    expect(body.usage).toEqual({ prompt_tokens: 52, completion_tokens: 4, total_tokens: 56 });
  });

  it("streamed, each choice's chunks carry its index and each choice finishes", async () => {
    const stream = await events(
      await post(chat({ n: 2, stream: true, stream_options: { include_usage: true } })),
    );
    const text = (i: number) =>
      stream
        .flatMap((e) => e.choices.filter((c: Json) => c.index === i).map((c: Json) => c.delta.content ?? ""))
        .join("");
    expect(text(0)).toMatch(/^Answer from /);
    expect(text(1)).toMatch(/^Answer from /);
    const finishes = stream.flatMap((e) =>
      e.choices.filter((c: Json) => c.finish_reason).map((c: Json) => c.index),
    );
    expect(finishes.sort()).toEqual([0, 1]);
    expect(stream.at(-1).usage.prompt_tokens).toBe(52);
  });

  it("n above the maximum is a 400", async () => {
    const res = await post(chat({ n: 9 }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as Json).error).toMatchObject({ param: "n", code: "invalid_value" });
  });
});

describe("sampling fields", () => {
  it("presence_penalty and frequency_penalty reach Ollama's options", async () => {
    await post(chat({ presence_penalty: 0.5, frequency_penalty: 0.25 }));
    expect(ollama.requests[0]!.options).toMatchObject({ presence_penalty: 0.5, frequency_penalty: 0.25 });
  });

  it("logprobs and top_logprobs come back as logprobs.content with bytes, in JSON and in chunks", async () => {
    reply = () =>
      ndjsonResponse(
        `${JSON.stringify({
          model: "herd-code",
          created_at: "2025-07-07T20:22:19.101Z",
          message: { role: "assistant", content: "Hé" },
          done: false,
          logprobs: [
            {
              token: "Hé",
              logprob: -0.5,
              top_logprobs: [
                { token: "Hé", logprob: -0.5 },
                { token: "Ho", logprob: -1.2 },
              ],
            },
          ],
        })}\n${chatStream([]).trim()}\n`,
      );
    const body: Json = await (await post(chat({ logprobs: true, top_logprobs: 2 }))).json();
    expect(ollama.requests[0]).toMatchObject({ logprobs: true, top_logprobs: 2 });
    expect(body.choices[0].logprobs).toEqual({
      content: [
        {
          token: "Hé",
          logprob: -0.5,
          bytes: [72, 195, 169],
          top_logprobs: [
            { token: "Hé", logprob: -0.5, bytes: [72, 195, 169] },
            { token: "Ho", logprob: -1.2, bytes: [72, 111] },
          ],
        },
      ],
      refusal: null,
    });
    const stream = await events(await post(chat({ logprobs: true, stream: true })));
    const withText = stream.find((e) => e.choices[0]?.delta.content === "Hé");
    expect(withText.choices[0].logprobs.content[0]).toMatchObject({ token: "Hé", logprob: -0.5 });
  });

  it("top_logprobs without logprobs is a 400", async () => {
    expect((await post(chat({ top_logprobs: 2 }))).status).toBe(400);
  });
});

describe("errors", () => {
  it("every error response carries x-request-id and a code that says what happened", async () => {
    const bad = await post(chat({ temperature: 9 }));
    expect(bad.status).toBe(400);
    expect(bad.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    expect(((await bad.json()) as Json).error.code).toBe("invalid_value");

    const missing = await post({ messages: [{ role: "user", content: "x" }] });
    expect(((await missing.json()) as Json).error).toMatchObject({
      param: "model",
      code: "missing_required_parameter",
    });

    const unknown = await fetch(`${servers[0]!.url}/v1/nope`);
    expect(unknown.headers.get("x-request-id")).toMatch(/^req_/);
  });

  it("a missing expert model on the backend is a 503 model_not_built naming the model and herd build", async () => {
    reply = (body) => modelNotFound(body.model);
    const res = await post(chat({ model: "herd:code" }));
    expect(res.status).toBe(503);
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    const error = ((await res.json()) as Json).error;
    expect(error).toMatchObject({ type: "server_error", code: "model_not_built" });
    expect(error.message).toMatch(/herd-code.*herd build/);
  });

  it("with the fallback plugin the base model answers instead", async () => {
    reply = (body) =>
      body.model === "herd-code" ? modelNotFound(body.model) : echo(body, new Request(OLLAMA_URL));
    const res = await post(chat({ model: "herd:code" }), 1);
    expect(res.status).toBe(200);
    const body: Json = await res.json();
    expect(body.choices[0].message.content).not.toContain("herd-code");
    expect(body.herd.warnings.join(" ")).toMatch(/herd-code.*failed/);
  });
});
