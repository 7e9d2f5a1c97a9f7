import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ModelNotFoundError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../../src/core/errors.js";
import { EngineClient } from "../../../src/providers/http/engine-client.js";
import { parseEngineErrorBody } from "../../../src/providers/http/engine-errors.js";
import { parseSse } from "../../../src/providers/http/sse.js";

const URL = "http://engine.test:8000";
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const client = new EngineClient({
  service: "vLLM",
  url: `${URL}/v1`,
  unreachableHint: "Start it.",
  apiKey: "sk-engine",
  notFoundHint: (m) => `Add ${m} to --lora-modules.`,
});
const body = (model: string, stream = false) => ({
  model,
  messages: [{ role: "user", content: "hi" }],
  stream,
});
const drain = async (it: AsyncIterable<unknown>) => {
  const out: unknown[] = [];
  for await (const x of it) out.push(x);
  return out;
};
const reply = (status: number, data: unknown) =>
  server.use(http.post(`${URL}/v1/chat/completions`, () => HttpResponse.json(data as object, { status })));

describe("engine error shapes", () => {
  it("reads vLLM's nested and flat bodies, LoRAX's {error, error_type} and FastAPI's {detail}", () => {
    expect(
      parseEngineErrorBody({
        error: { message: "The model `x` does not exist.", type: "NotFoundError", param: "model", code: 404 },
      }),
    ).toEqual({ message: "The model `x` does not exist.", type: "NotFoundError", status: 404 });
    expect(
      parseEngineErrorBody({
        object: "error",
        message: "The model `x` does not exist.",
        type: "NotFoundError",
        param: null,
        code: 404,
      }),
    ).toEqual({ message: "The model `x` does not exist.", type: "NotFoundError", status: 404 });
    expect(parseEngineErrorBody({ error: "Model is overloaded", error_type: "overloaded" })).toEqual({
      message: "Model is overloaded",
      type: "overloaded",
      status: 429,
    });
    expect(parseEngineErrorBody({ detail: "Not Found" })).toEqual({ message: "Not Found" });
    expect(parseEngineErrorBody({ unrelated: 1 })).toBeUndefined();
  });

  it.each([
    [
      "nested (vLLM >= 0.10.1)",
      {
        error: {
          message: "The model `herd-x` does not exist.",
          type: "NotFoundError",
          param: "model",
          code: 404,
        },
      },
    ],
    [
      "flat (vLLM < 0.10.1)",
      {
        object: "error",
        message: "The model `herd-x` does not exist.",
        type: "NotFoundError",
        param: null,
        code: 404,
      },
    ],
  ])("an unknown model in the %s shape is ModelNotFoundError naming the fix", async (_, data) => {
    reply(404, data);
    const error = await drain(client.chat(body("herd-x"))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    // A model the backend does not serve is the server's setup (503 model_not_built); the engine said 404.
    expect((error as ModelNotFoundError).status).toBe(503);
    expect((error as ModelNotFoundError).providerStatus).toBe(404);
    expect((error as Error).message).toContain('does not serve "herd-x"');
    expect((error as Error).message).toContain("Add herd-x to --lora-modules.");
  });

  it("429 and 503 keep their status and are retryable; 400 stays a client error", async () => {
    reply(429, { error: "Model is overloaded", error_type: "overloaded" });
    const busy = (await drain(client.chat(body("herd-code"))).catch(
      (e: unknown) => e,
    )) as ProviderResponseError;
    expect(busy.status).toBe(429);
    expect(busy.isRetryable).toBe(true);
    expect(busy.message).toContain("Model is overloaded");
    reply(503, { error: { code: 503, message: "Loading model", type: "unavailable_error" } });
    const loading = (await drain(client.chat(body("herd-code"))).catch(
      (e: unknown) => e,
    )) as ProviderResponseError;
    expect(loading.status).toBe(503);
    reply(400, {
      error: {
        message: "This model's maximum context length is 4096 tokens.",
        type: "BadRequestError",
        param: null,
        code: 400,
      },
    });
    const tooLong = (await drain(client.chat(body("herd-code"))).catch(
      (e: unknown) => e,
    )) as ProviderResponseError;
    expect(tooLong.status).toBe(400);
    expect(tooLong.message).toContain("maximum context length");
  });

  it("401 says to pass the engine's key; the key is sent as a bearer token", async () => {
    let auth: string | null = null;
    server.use(
      http.post(`${URL}/v1/chat/completions`, ({ request }) => {
        auth = request.headers.get("authorization");
        return HttpResponse.json({ error: "Unauthorized" }, { status: 401 });
      }),
    );
    const error = await drain(client.chat(body("herd-code"))).catch((e: unknown) => e);
    expect(auth).toBe("Bearer sk-engine");
    expect((error as Error).message).toMatch(/--api-key-backend/);
  });

  it("an error event inside a 200 stream (OpenAI and LoRAX shapes) throws a Herd error", async () => {
    for (const event of [
      { error: { message: "CUDA out of memory", type: "InternalServerError", param: null, code: 500 } },
      { error: "Request failed during generation: Server error: CUDA error", error_type: "generation" },
    ]) {
      server.use(
        http.post(
          `${URL}/v1/chat/completions`,
          () =>
            new HttpResponse(`data: ${JSON.stringify(event)}\n\n`, {
              headers: { "content-type": "text/event-stream" },
            }),
        ),
      );
      const error = await drain(client.chat(body("herd-code", true))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderResponseError);
      expect((error as Error).message).toMatch(/CUDA/);
    }
  });

  it("a stream that ends without a finish reason is an error naming the engine", async () => {
    server.use(
      http.post(
        `${URL}/v1/chat/completions`,
        () =>
          new HttpResponse(
            'data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n',
            {
              headers: { "content-type": "text/event-stream" },
            },
          ),
      ),
    );
    await expect(drain(client.chat(body("herd-code", true)))).rejects.toThrow(
      /closed the \/v1\/chat\/completions stream/,
    );
  });

  it("an engine that is not listening is ProviderUnavailableError with the URL and the hint", async () => {
    const down = new EngineClient({
      service: "vLLM",
      url: "http://127.0.0.1:9",
      unreachableHint: "Start it.",
    });
    server.use(http.post("http://127.0.0.1:9/v1/chat/completions", () => HttpResponse.error()));
    const error = await drain(down.chat(body("herd-code"))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toContain("http://127.0.0.1:9");
  });

  it("refuses a URL that is not http(s), naming the flag", () => {
    expect(() => new EngineClient({ service: "vLLM", url: "localhost:8000", unreachableHint: "" })).toThrow(
      /http:\/\//,
    );
  });
});

describe("parseSse", () => {
  const stream = (text: string, size = 5) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        const bytes = new TextEncoder().encode(text);
        for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.slice(i, i + size));
        c.close();
      },
    });

  it("joins multi-line data, skips comments, accepts CRLF and a last event without a blank line", async () => {
    const events = await drain(
      parseSse(stream(': keep-alive\r\ndata: a\r\ndata: b\r\n\r\nevent: x\ndata: {"k":1}')),
    );
    expect(events).toEqual([
      { data: "a\nb", event: undefined, id: undefined },
      { data: '{"k":1}', event: "x", id: undefined },
    ]);
  });

  it("refuses an event larger than the bound", async () => {
    await expect(drain(parseSse(stream(`data: ${"x".repeat(200)}`), { maxEventChars: 100 }))).rejects.toThrow(
      /exceeded 100/,
    );
  });

  it("keeps only well-formed logprob entries, with at most the asked alternatives", async () => {
    reply(200, {
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Hi" },
          logprobs: {
            content: [
              {
                token: "H",
                logprob: -0.1,
                bytes: [72],
                top_logprobs: [{ token: "H", logprob: -0.1 }, { token: "J", logprob: -3 }, { token: 5 }],
              },
              { token: 7, logprob: -1 },
              null,
              { token: "i", logprob: "low" },
              { token: "i", logprob: -0.2, top_logprobs: "none" },
            ],
          },
          finish_reason: "stop",
        },
      ],
    });
    const chunks = await drain(client.chat(body("herd-code"), { reply: { logprobs: { top: 1 } } }));
    expect(chunks[0]).toEqual({
      type: "text",
      text: "Hi",
      logprobs: [
        { token: "H", logprob: -0.1, topLogprobs: [{ token: "H", logprob: -0.1 }] },
        { token: "i", logprob: -0.2, topLogprobs: [] },
      ],
    });
    const plain = await drain(client.chat(body("herd-code")));
    expect(plain[0]).toEqual({ type: "text", text: "Hi" });
  });
});
