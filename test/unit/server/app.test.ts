import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { ProviderResponseError, ProviderUnavailableError } from "../../../src/core/errors.js";
import { type AppOptions, createApp } from "../../../src/server/app.js";
import { listen } from "../../helpers/listen.js";
import { FakeHerd, lingeringHerd, textChunks } from "./fake-herd.js";

// biome-ignore lint/suspicious/noExplicitAny: the assertions read arbitrary JSON bodies
type Json = any;
const json = (res: Response): Promise<Json> => res.json();

let closeServer: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeServer?.();
  closeServer = undefined;
});

async function start(herd = new FakeHerd(), options: AppOptions = {}) {
  const server = await listen(createApp(herd, { logger: { error: () => {} }, ...options }));
  closeServer = server.close;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { herd, url: server.url, post };
}

const chat = (extra: Record<string, unknown> = {}) => ({
  model: "herd",
  messages: [{ role: "user", content: "Write a function" }],
  ...extra,
});

/** The `data:` payloads of an SSE body, in order. */
function events(text: string): string[] {
  return text
    .split("\n\n")
    .filter((e) => e !== "")
    .map((e) => {
      expect(e.startsWith("data: ")).toBe(true);
      return e.slice("data: ".length);
    });
}

describe("POST /v1/chat/completions (JSON)", () => {
  it("answers with a chat.completion, the herd routing object and routing headers", async () => {
    const { post } = await start();
    const res = await post("/v1/chat/completions", chat());
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("x-herd-model")).toBe("herd-code");
    expect(res.headers.get("x-herd-experts")).toBe("code=1.000");
    expect(res.headers.get("x-herd-routing")).toBe("routed");
    expect(res.headers.get("x-request-id")).toBe("req-1");
    const body = await json(res);
    expect(body).toMatchObject({
      object: "chat.completion",
      model: "herd-code",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Hello world", refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 },
      herd: { model: "herd-code", reason: "routed", base: false, experts: [{ name: "code", weight: 1 }] },
    });
    expect(body.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(body.herd.ranked.map((e: { name: string }) => e.name)).toEqual(["code", "qa"]);
    expect(body.herd.timings).toEqual({ embedMs: 0.5, queryMs: 0.1, totalMs: 0.7 });
    expect(body.herd.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("answers once every choice has finished, then lets the streams end by themselves", async () => {
    const { herd, ends, open } = lingeringHerd(() => ({ chunks: textChunks(["Hi"]) }));
    const { post } = await start(herd);
    const body = await json(await post("/v1/chat/completions", chat({ n: 2 })));
    expect(body.choices.map((c: Json) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, "Hi", "stop"],
      [1, "Hi", "stop"],
    ]);
    expect(body.usage).toEqual({ prompt_tokens: 14, completion_tokens: 2, total_tokens: 16 });
    expect(ends).toEqual([]);
    open();
    await expect.poll(() => ends).toEqual(["ended", "ended"]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ends).toEqual(["ended", "ended"]);
  });

  it("returns tool calls with string arguments and finish_reason tool_calls", async () => {
    const herd = new FakeHerd(() => ({
      chunks: [
        {
          type: "tool-call",
          index: 0,
          id: "call_1",
          name: "get_weather",
          argumentsDelta: '{"city":"Paris"}',
        },
        { type: "finish", finishReason: "stop" },
      ],
    }));
    const { post } = await start(herd);
    const body = await json(await post("/v1/chat/completions", chat()));
    expect(body.choices[0]).toMatchObject({
      message: {
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          },
        ],
      },
      finish_reason: "tool_calls",
    });
  });

  it("forces an expert with herd:<expert>, skips routing for the base model, 404s other names", async () => {
    const { herd, post } = await start();
    const forced = await post("/v1/chat/completions", chat({ model: "herd:qa" }));
    expect(forced.headers.get("x-herd-experts")).toBe("qa=1.000");
    expect(herd.requests[0]).toMatchObject({ expert: "qa", model: "herd:qa" });

    const base = await post("/v1/chat/completions", chat({ model: "llama3.2" }));
    expect(base.headers.get("x-herd-experts")).toBe("none");
    expect(base.headers.get("x-herd-model")).toBe("llama3.2");
    expect(herd.requests[1]?.route).toEqual({ baseOnly: true });

    const unknown = await post("/v1/chat/completions", chat({ model: "gpt-4o" }));
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toEqual({
      error: {
        message: expect.stringMatching(/`gpt-4o` does not exist.*herd, herd:code, herd:qa, llama3\.2/),
        type: "invalid_request_error",
        param: null,
        code: "model_not_found",
      },
    });
    expect((await post("/v1/chat/completions", chat({ model: "herd:nope" }))).status).toBe(404);
    expect(herd.requests).toHaveLength(2);
  });

  it("with onlyBase sends every request to the base model and refuses expert names", async () => {
    const { herd, post } = await start(new FakeHerd(), { onlyBase: true });
    expect((await post("/v1/chat/completions", chat())).headers.get("x-herd-model")).toBe("llama3.2");
    expect(herd.requests[0]?.route).toEqual({ baseOnly: true });
    expect((await post("/v1/chat/completions", chat({ model: "herd:code" }))).status).toBe(404);
  });

  it("ignores unsupported fields with a warning header instead of an error", async () => {
    const { post } = await start();
    const res = await post(
      "/v1/chat/completions",
      chat({ logit_bias: { "50256": -100 }, presence_penalty: 0, frobnicate: { "\u00e9": 1 }, user: "u1" }),
    );
    expect(res.status).toBe(200);
    const warning = res.headers.get("x-herd-warning") ?? "";
    expect(warning).toContain("Ignored unsupported fields: logit_bias, frobnicate.");
    expect(warning).not.toContain("presence_penalty");
    expect((await json(res)).herd.warnings).toHaveLength(1);
  });

  it("puts the user field into request metadata", async () => {
    const { herd, post } = await start();
    await post("/v1/chat/completions", chat({ user: "alice" }));
    expect(herd.requests[0]?.metadata).toEqual({ route: "/v1/chat/completions", user: "alice" });
  });

  it("takes a conversation id for sticky routing from a header or OpenAI metadata", async () => {
    const { herd, post } = await start();
    await post("/v1/chat/completions", chat(), { "x-herd-conversation-id": "conv-1" });
    await post("/v1/chat/completions", chat({ metadata: { conversation_id: "conv-2" } }));
    expect(herd.requests.map((r) => r.metadata?.conversationId)).toEqual(["conv-1", "conv-2"]);
  });
});

describe("POST /v1/chat/completions (stream)", () => {
  it("sends the exact OpenAI SSE framing: role first with herd, deltas, finish, [DONE]", async () => {
    const { post } = await start();
    const res = await post("/v1/chat/completions", chat({ stream: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(res.headers.get("x-herd-experts")).toBe("code=1.000");
    const text = await res.text();
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    const payloads = events(text);
    expect(payloads.at(-1)).toBe("[DONE]");
    const chunks = payloads.slice(0, -1).map((p) => JSON.parse(p));
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.map((c) => c.choices[0].delta)).toEqual([
      { role: "assistant", content: "" },
      { content: "Hello" },
      { content: " world" },
      {},
    ]);
    expect(chunks.map((c) => c.choices[0].finish_reason)).toEqual([null, null, null, "stop"]);
    expect(chunks[0].herd).toMatchObject({ model: "herd-code", experts: [{ name: "code", weight: 1 }] });
    expect(chunks[1].herd).toBeUndefined();
    expect(chunks[0]).not.toHaveProperty("usage");
    expect(Object.keys(chunks[1])).toEqual(["id", "object", "created", "model", "choices"]);
    expect(chunks[1].object).toBe("chat.completion.chunk");
  });

  it("with include_usage sets usage null on each chunk and sends a usage chunk with no choices", async () => {
    const { post } = await start();
    const text = await (
      await post("/v1/chat/completions", chat({ stream: true, stream_options: { include_usage: true } }))
    ).text();
    const payloads = events(text);
    const chunks = payloads.slice(0, -1).map((p) => JSON.parse(p));
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 },
    });
  });

  it("streams a tool call as index/id/type/name first, then the arguments", async () => {
    const herd = new FakeHerd(() => ({
      chunks: [
        {
          type: "tool-call",
          index: 0,
          id: "call_1",
          name: "get_weather",
          argumentsDelta: '{"city":"Paris"}',
        },
        { type: "finish", finishReason: "stop" },
      ],
    }));
    const { post } = await start(herd);
    const chunks = events(await (await post("/v1/chat/completions", chat({ stream: true }))).text())
      .slice(0, -1)
      .map((p) => JSON.parse(p));
    expect(chunks.slice(1).map((c) => c.choices[0])).toEqual([
      {
        index: 0,
        delta: {
          tool_calls: [
            { index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } },
          ],
        },
        logprobs: null,
        finish_reason: null,
      },
      {
        index: 0,
        delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] },
        logprobs: null,
        finish_reason: null,
      },
      { index: 0, delta: {}, logprobs: null, finish_reason: "tool_calls" },
    ]);
  });

  it("ends with an OpenAI error event, without [DONE], when the backend fails mid-stream", async () => {
    const herd = new FakeHerd(() => ({
      chunks: [
        { type: "text", text: "Hel" },
        new ProviderResponseError(
          "Ollama stopped: an error was encountered while running the model",
          200,
          "http://127.0.0.1:11434",
        ),
      ],
    }));
    const { post } = await start(herd);
    const res = await post("/v1/chat/completions", chat({ stream: true }));
    expect(res.status).toBe(200);
    const payloads = events(await res.text());
    expect(payloads).not.toContain("[DONE]");
    expect(JSON.parse(payloads.at(-1)!)).toEqual({
      error: {
        message:
          "Ollama stopped: an error was encountered while running the model (backend: http://127.0.0.1:11434)",
        type: "server_error",
        param: null,
        code: "provider_error",
      },
    });
    // The same failure without streaming is a plain 502, and the server keeps serving.
    const again = await post("/v1/chat/completions", chat());
    expect(again.status).toBe(502);
    expect((await json(again)).error.code).toBe("provider_error");
  });

  it("ends the answer once every choice has finished, then lets the streams end by themselves", async () => {
    const { herd, ends, open } = lingeringHerd(() => ({ chunks: textChunks(["Hi"]) }));
    const { post } = await start(herd);
    const res = await post(
      "/v1/chat/completions",
      chat({ stream: true, n: 2, stream_options: { include_usage: true } }),
    );
    const payloads = events(await res.text());
    expect(payloads.at(-1)).toBe("[DONE]");
    const chunks = payloads.slice(0, -1).map((p) => JSON.parse(p));
    expect(
      chunks.filter((c) => c.choices[0]?.finish_reason === "stop").map((c) => c.choices[0].index),
    ).toEqual([0, 1]);
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 14, completion_tokens: 2, total_tokens: 16 });
    expect(ends).toEqual([]);
    open();
    await expect.poll(() => ends).toEqual(["ended", "ended"]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ends).toEqual(["ended", "ended"]);
  });

  it("aborts the backend request when the client disconnects", async () => {
    const herd = new FakeHerd(() => ({
      chunks: textChunks(Array.from({ length: 200 }, () => "x")),
      delayMs: 5,
    }));
    const { url } = await start(herd);
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat({ stream: true })),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await expect.poll(() => herd.signals[0]?.aborted, { timeout: 5000 }).toBe(true);
  });
});

describe("errors", () => {
  it("answers invalid JSON, invalid fields and empty bodies with 400 naming the problem", async () => {
    const { post } = await start();
    const invalid = await post("/v1/chat/completions", "{not json");
    expect(invalid.status).toBe(400);
    expect((await json(invalid)).error).toMatchObject({
      type: "invalid_request_error",
      message: /not valid JSON/,
    });

    const field = await post("/v1/chat/completions", chat({ temperature: "hot" }));
    expect(field.status).toBe(400);
    // clients such as the openai SDK must not retry a request that cannot succeed
    expect(field.headers.get("x-should-retry")).toBe("false");
    expect((await json(field)).error).toMatchObject({ param: "temperature", code: "invalid_value" });

    const empty = await post("/v1/chat/completions", "");
    expect(empty.status).toBe(400);
    expect((await json(empty)).error.message).toMatch(/empty/);
  });

  it("refuses bodies over the limit with 413", async () => {
    const { post } = await start(new FakeHerd(), { bodyLimit: 1000 });
    const res = await post(
      "/v1/chat/completions",
      chat({ messages: [{ role: "user", content: "x".repeat(2000) }] }),
    );
    expect(res.status).toBe(413);
    expect((await json(res)).error).toMatchObject({ code: "request_too_large", message: /1000 bytes/ });
  });

  it("maps an unreachable backend to 503 with its address", async () => {
    const herd = new FakeHerd(() => ({
      chunks: [],
      error: new ProviderUnavailableError(
        "Cannot reach Ollama. Start it with `ollama serve`.",
        "http://127.0.0.1:11434",
      ),
    }));
    const { post } = await start(herd);
    const res = await post("/v1/chat/completions", chat({ stream: true }));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("x-should-retry")).toBe("true");
    expect((await json(res)).error).toEqual({
      message: "Cannot reach Ollama. Start it with `ollama serve`. (backend: http://127.0.0.1:11434)",
      type: "server_error",
      param: null,
      code: "provider_unavailable",
    });
  });

  it("answers unknown URLs with an OpenAI 404", async () => {
    const { url } = await start();
    const res = await fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(404);
    expect((await json(res)).error.message).toMatch(/Unknown request URL: POST \/v1\/completions/);
  });
});

describe("the chat route outside Express", () => {
  it("answers the same on every spelling of the path, and when the app is mounted under a prefix", async () => {
    const { post } = await start();
    const answers = [];
    for (const path of ["/v1/chat/completions", "/v1/chat/completions?x=1", "/v1/chat/completions/"]) {
      const res = await post(path, chat());
      expect(res.status, path).toBe(200);
      expect(res.headers.get("x-herd-experts"), path).toBe("code=1.000");
      const { id, created, herd, ...rest } = await json(res);
      expect(herd.model, path).toBe("herd-code");
      answers.push(rest);
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);

    const seen: string[] = [];
    const outer = express();
    outer.use((req, _res, next) => {
      seen.push(req.url);
      next();
    });
    outer.use("/herd", createApp(new FakeHerd(), { logger: { error: () => {} } }));
    const server = await listen(outer);
    try {
      const res = await fetch(`${server.url}/herd/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(chat()),
      });
      expect(res.status).toBe(200);
      expect((await json(res)).choices[0].message.content).toBe("Hello world");
      expect(seen).toEqual(["/herd/v1/chat/completions"]);
    } finally {
      await server.close();
    }
  });

  it("answers an error thrown by the herd with the app's OpenAI error and retry headers", async () => {
    const herd = new FakeHerd(() => ({
      chunks: [],
      error: new ProviderResponseError("Ollama answered 500", 500),
    }));
    const { post } = await start(herd);
    const res = await post("/v1/chat/completions?x=1", chat());
    expect(res.status).toBe(502);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    expect((await json(res)).error).toMatchObject({ type: "server_error", message: /Ollama answered 500/ });
  });
});

describe("auth", () => {
  it("requires the configured key on /v1 but not on /health", async () => {
    const { post, url } = await start(new FakeHerd(), { apiKey: "sk-secret-123" });
    const missing = await post("/v1/chat/completions", chat());
    expect(missing.status).toBe(401);
    expect((await json(missing)).error).toMatchObject({
      type: "invalid_request_error",
      code: "invalid_api_key",
    });
    const wrong = await post("/v1/chat/completions", chat(), { authorization: "Bearer sk-wrong-456789" });
    expect(wrong.status).toBe(401);
    const message = (await json(wrong)).error.message;
    expect(message).toContain("sk-***789");
    expect(message).not.toContain("sk-wrong-456789");
    expect(
      (await post("/v1/chat/completions", chat(), { authorization: "Bearer sk-secret-123" })).status,
    ).toBe(200);
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it("hides the backend's address from unauthenticated /health callers when a key is set", async () => {
    const herd = new FakeHerd();
    herd.healthError = new ProviderUnavailableError(
      "Cannot reach Ollama at http://10.1.2.3:11434.",
      "http://10.1.2.3:11434",
    );
    const { url } = await start(herd, { apiKey: "sk-secret-123", health: { ttlMs: 0 } });
    const open = await fetch(`${url}/health`);
    expect(open.status).toBe(503);
    expect(await open.text()).toBe('{"status":"unavailable"}');
    const authed = await fetch(`${url}/health`, { headers: { authorization: "Bearer sk-secret-123" } });
    expect(authed.status).toBe(503);
    expect((await json(authed)).error.message).toContain("http://10.1.2.3:11434");
    herd.healthError = undefined;
    expect(await (await fetch(`${url}/health`)).text()).toBe('{"status":"ok"}');
    expect(
      await json(await fetch(`${url}/health`, { headers: { authorization: "Bearer sk-secret-123" } })),
    ).toEqual({ status: "ok", backend: "ok" });
  });
});

describe("models, route and health", () => {
  it("lists herd, herd:<expert> and the base model", async () => {
    const { url } = await start();
    const body = await json(await fetch(`${url}/v1/models`));
    expect(body.object).toBe("list");
    expect(body.data.map((m: { id: string }) => m.id)).toEqual(["herd", "herd:code", "herd:qa", "llama3.2"]);
    expect(body.data[0]).toEqual({
      id: "herd",
      object: "model",
      created: expect.any(Number),
      owned_by: "herd",
    });
    expect((await json(await fetch(`${url}/v1/models/herd:qa`))).id).toBe("herd:qa");
    expect((await fetch(`${url}/v1/models/gpt-4o`)).status).toBe(404);
  });

  it("returns the routing decision alone from /v1/route", async () => {
    const { post } = await start();
    const routed = await json(await post("/v1/route", { input: "Write a function" }));
    expect(routed).toMatchObject({ object: "herd.route", model: "herd-code", reason: "routed" });
    const forced = await json(
      await post("/v1/route", { model: "herd:qa", messages: [{ role: "user", content: "x" }] }),
    );
    expect(forced.selected).toEqual([{ name: "qa", distance: 0.5, similarity: 0.5, weight: 1 }]);
    expect(forced.reason).toBe("forced");
    expect((await post("/v1/route", {})).status).toBe(400);
  });

  it("reports 503 from /health when the backend is down", async () => {
    const herd = new FakeHerd();
    const { url } = await start(herd, { health: { ttlMs: 0 } });
    expect(await json(await fetch(`${url}/health`))).toEqual({ status: "ok", backend: "ok" });
    herd.healthError = new ProviderUnavailableError("Cannot reach Ollama.", "http://127.0.0.1:11434");
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(503);
    expect((await json(res)).error.message).toContain("http://127.0.0.1:11434");
  });
});
