import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatChunk, ChatProvider, ChatRequest, ToolDefinition } from "../../../src/core/chat.js";
import { ProviderResponseError } from "../../../src/core/errors.js";
import { LlamaServerChatProvider } from "../../../src/providers/chat/llama-server/index.js";
import { LoraxChatProvider } from "../../../src/providers/chat/lorax/index.js";
import { VllmChatProvider } from "../../../src/providers/chat/vllm/index.js";
import { pieceLogprob } from "../../fixtures/engines/generation.js";
import { LlamaServerStandIn } from "../../fixtures/engines/llama-server-stand-in.js";
import { LoraxStandIn } from "../../fixtures/engines/lorax-stand-in.js";
import { standInHandlers } from "../../fixtures/engines/serve-stand-in.js";
import { VllmStandIn } from "../../fixtures/engines/vllm-stand-in.js";
import type { EngineStandIn } from "../../fixtures/engines/wire.js";

/**
 * The request fields of core/chat.ts on the three engines: penalties, logprobs, parallel_tool_calls
 * and forced tool choices, each as the engine reads it (see the stand-ins' notes).
 */

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterAll(() => server.close());

let hosts = 0;
function engine(kind: "vllm" | "llama-server" | "lorax"): { standIn: EngineStandIn; provider: ChatProvider } {
  const url = `http://${kind}-fields-${++hosts}.test:8000`;
  if (kind === "vllm") {
    const standIn = new VllmStandIn({ adapters: ["herd-code"] });
    server.use(...standInHandlers(url, standIn));
    return { standIn, provider: new VllmChatProvider({ url }) };
  }
  if (kind === "llama-server") {
    const standIn = new LlamaServerStandIn({ adapters: ["/a/code.gguf"] });
    server.use(...standInHandlers(url, standIn));
    return {
      standIn,
      provider: new LlamaServerChatProvider({ url, experts: [{ expert: "code", file: "/a/code.gguf" }] }),
    };
  }
  const standIn = new LoraxStandIn({ adapters: ["/a/herd-code"] });
  server.use(...standInHandlers(url, standIn));
  return { standIn, provider: new LoraxChatProvider({ url, adapterDir: "/a" }) };
}

const tool = (name: string): ToolDefinition => ({
  name,
  description: `The ${name} tool`,
  parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
});
const TOOLS = [tool("search_docs"), tool("get_weather")];

const request = (over: Partial<ChatRequest> = {}, prompt = "hi"): ChatRequest => ({
  target: { model: "herd-code", adapters: [{ expert: "code", scale: 1 }], base: false },
  messages: [{ role: "user", content: prompt }],
  params: {},
  ...over,
});
async function collect(provider: ChatProvider, r: ChatRequest, stream = true) {
  const chunks: ChatChunk[] = [];
  for await (const c of provider.stream(r, { stream })) chunks.push(c);
  const calls = chunks.filter((c) => c.type === "tool-call");
  return {
    chunks,
    text: chunks.map((c) => (c.type === "text" ? c.text : "")).join(""),
    calls,
    names: calls.filter((c) => c.name).map((c) => c.name),
    logprobs: chunks.flatMap((c) => (c.type === "text" ? (c.logprobs ?? []) : [])),
    finish: chunks.at(-1),
  };
}
const lastChat = (s: EngineStandIn) =>
  s.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)?.body ?? {};

describe.each(["vllm", "llama-server", "lorax"] as const)("%s: request fields", (kind) => {
  it("sends presence and frequency penalties", async () => {
    const { standIn, provider } = engine(kind);
    await collect(provider, request({ params: { presencePenalty: 0.6, frequencyPenalty: -0.4 } }));
    expect(lastChat(standIn)).toMatchObject({ presence_penalty: 0.6, frequency_penalty: -0.4 });
  });

  it('tool_choice "required" yields a tool call where the model would have answered in text', async () => {
    const { provider } = engine(kind);
    const free = await collect(provider, request({ tools: TOOLS, toolChoice: "auto" }, "Just say hi"));
    expect(free.calls).toHaveLength(0);
    expect(free.text).toContain("Answer from");
    const forced = await collect(provider, request({ tools: TOOLS, toolChoice: "required" }, "Just say hi"));
    expect(forced.text).toBe("");
    expect(forced.names).toHaveLength(1);
    expect(TOOLS.map((t) => t.name)).toContain(forced.names[0]);
    const args = forced.calls.map((c) => (c.type === "tool-call" ? c.argumentsDelta : "")).join("");
    expect(JSON.parse(args)).toEqual({ query: "Just say hi" });
    expect(forced.finish).toMatchObject({ type: "finish", finishReason: "tool_calls" });
  });

  it("a named tool_choice calls that tool, not the first one offered", async () => {
    const { provider } = engine(kind);
    const { names, finish } = await collect(
      provider,
      request({ tools: TOOLS, toolChoice: { name: "get_weather" } }, "Just say hi"),
    );
    expect(names).toEqual(["get_weather"]);
    expect(finish).toMatchObject({ finishReason: "tool_calls" });
  });
});

describe("engine request fields on the wire", () => {
  it("vLLM gets tool_choice as OpenAI spells it, and parallel_tool_calls", async () => {
    const { standIn, provider } = engine("vllm");
    await collect(
      provider,
      request({ tools: TOOLS, toolChoice: { name: "get_weather" }, parallelToolCalls: false }),
    );
    expect(lastChat(standIn)).toMatchObject({
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false,
    });
    expect((lastChat(standIn).tools as unknown[]).length).toBe(2);
  });

  it('llama-server gets a named tool as "required" over that tool alone, and parallel_tool_calls: true by default', async () => {
    const { standIn, provider } = engine("llama-server");
    await collect(provider, request({ tools: TOOLS, toolChoice: { name: "get_weather" } }));
    const body = lastChat(standIn);
    expect(body).toMatchObject({ tool_choice: "required", parallel_tool_calls: true });
    expect((body.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual([
      "get_weather",
    ]);
  });

  it('LoRAX gets a named tool as its plain name, and "required" over several tools as a JSON schema', async () => {
    const { standIn, provider } = engine("lorax");
    await collect(provider, request({ tools: TOOLS, toolChoice: { name: "get_weather" } }));
    expect(lastChat(standIn)).toMatchObject({ tool_choice: "get_weather", stream: false });
    await collect(provider, request({ tools: TOOLS, toolChoice: "required" }));
    const body = lastChat(standIn);
    expect(body).not.toHaveProperty("tools");
    expect(body).not.toHaveProperty("tool_choice");
    expect(body.response_format).toMatchObject({
      type: "json_object",
      schema: {
        anyOf: [
          { properties: { name: { const: "search_docs" } } },
          { properties: { name: { const: "get_weather" } } },
        ],
      },
    });
  });

  it("LoRAX: a forced call cut by max_tokens is closed into valid JSON with finish length", async () => {
    const { provider } = engine("lorax");
    const { calls, finish } = await collect(
      provider,
      request(
        { tools: TOOLS, toolChoice: "required", params: { maxTokens: 12 } },
        "a long question about docs",
      ),
    );
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call.type === "tool-call" && JSON.parse(call.argumentsDelta)).toEqual({
      query: expect.any(String),
    });
    expect(finish).toMatchObject({ finishReason: "length" });
  });

  it("LoRAX: an answer that is not a call of an allowed tool is an error naming the engine", async () => {
    const url = `http://lorax-fields-bad-${++hosts}.test:8080`;
    server.use(
      http.post(`${url}/v1/chat/completions`, () =>
        HttpResponse.json({
          id: "null",
          object: "chat.completion",
          created: 1,
          model: "",
          choices: [
            {
              index: 0,
              message: { role: "assistant", content: "Sure! Here you go." },
              finish_reason: "stop",
            },
          ],
          usage: { prompt_tokens: 1, completion_tokens: 4, total_tokens: 5 },
        }),
      ),
    );
    const provider = new LoraxChatProvider({ url });
    const error = await collect(provider, request({ tools: TOOLS, toolChoice: "required" })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as Error).message).toMatch(/LoRAX at .* did not follow the forced tool call schema/);
  });
});

describe.each(["vllm", "llama-server"] as const)("%s: logprobs", (kind) => {
  it.each([true, false])(
    "text chunks carry each token's logprob and k alternatives (stream %s)",
    async (stream) => {
      const { standIn, provider } = engine(kind);
      const r = await collect(provider, request({ params: { logprobs: true, topLogprobs: 2 } }), stream);
      expect(lastChat(standIn)).toMatchObject({ logprobs: true, top_logprobs: 2 });
      const pieces = ["Answer", " from"];
      expect(r.logprobs.slice(0, 2)).toEqual(
        pieces.map((p, i) => {
          const wire = pieceLogprob(p, i, 2);
          return {
            token: p,
            logprob: wire.logprob,
            topLogprobs: wire.top_logprobs.map((t) => ({ token: t.token, logprob: t.logprob })),
          };
        }),
      );
      expect(r.logprobs.map((l) => l.token).join("")).toBe(r.text);
    },
  );

  it("without top_logprobs the tokens come back with no alternatives", async () => {
    const { standIn, provider } = engine(kind);
    const r = await collect(provider, request({ params: { logprobs: true } }));
    expect(r.logprobs.length).toBeGreaterThan(0);
    expect(r.logprobs.every((l) => l.topLogprobs === undefined)).toBe(true);
    // llama-server computes none at n_probs 0, so Herd asks for one and drops it.
    expect(lastChat(standIn).top_logprobs).toBe(kind === "llama-server" ? 1 : 0);
  });

  it("no logprobs unless asked", async () => {
    const { standIn, provider } = engine(kind);
    const r = await collect(provider, request());
    expect(r.logprobs).toEqual([]);
    expect(lastChat(standIn)).not.toHaveProperty("logprobs");
  });
});

describe("parallel tool calls", () => {
  const twoCalls = (url: string, stream: boolean) =>
    http.post(`${url}/v1/chat/completions`, () => {
      const calls = [
        {
          index: 0,
          id: "call_a",
          type: "function",
          function: { name: "search_docs", arguments: '{"query":"a"}' },
        },
        {
          index: 1,
          id: "call_b",
          type: "function",
          function: { name: "get_weather", arguments: '{"query":"b"}' },
        },
      ];
      if (!stream)
        return HttpResponse.json({
          id: "c",
          object: "chat.completion",
          created: 1,
          model: "herd-code",
          choices: [
            {
              index: 0,
              message: { role: "assistant", content: null, tool_calls: calls },
              finish_reason: "tool_calls",
            },
          ],
        });
      const events = [
        {
          choices: [{ index: 0, delta: { role: "assistant", tool_calls: [calls[0]] }, finish_reason: null }],
        },
        { choices: [{ index: 0, delta: { tool_calls: [calls[1]] }, finish_reason: null }] },
        { choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] },
      ];
      const text = `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")}data: [DONE]\n\n`;
      return new HttpResponse(text, { headers: { "content-type": "text/event-stream" } });
    });

  it.each([true, false])(
    "parallelToolCalls false keeps only the first call the engine sent (stream %s)",
    async (stream) => {
      const url = `http://vllm-parallel-${++hosts}.test:8000`;
      server.use(twoCalls(url, stream));
      const provider = new VllmChatProvider({ url });
      const both = await collect(provider, request({ tools: TOOLS }), stream);
      expect(both.names).toEqual(["search_docs", "get_weather"]);
      const one = await collect(provider, request({ tools: TOOLS, parallelToolCalls: false }), stream);
      expect(one.names).toEqual(["search_docs"]);
      expect(one.finish).toMatchObject({ finishReason: "tool_calls" });
    },
  );
});

describe("llama-server: logprobs with tools", () => {
  it("asks for one JSON reply (llama-server refuses logprobs on a streamed answer with tools)", async () => {
    const { standIn, provider } = engine("llama-server");
    const r = await collect(
      provider,
      request({ tools: TOOLS, toolChoice: "auto", params: { logprobs: true } }, "Just say hi"),
    );
    expect(lastChat(standIn)).toMatchObject({ stream: false, logprobs: true });
    expect(r.logprobs.length).toBeGreaterThan(0);
  });
});
