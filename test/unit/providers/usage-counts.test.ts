import { describe, expect, it } from "vitest";
import type { ChatChunk, ChatRequest } from "../../../src/core/chat.js";
import { chunksFromGenerateStream } from "../../../src/providers/chat/lorax/generate-stream.js";
import { OllamaReplyTranslator } from "../../../src/providers/chat/ollama-response.js";
import { chatChunksFromJson, chatChunksFromSse } from "../../../src/providers/http/openai-chat-stream.js";

/**
 * Token counts as each backend reports them reach the finish chunk exactly; a count the backend
 * left out is never filled in with 0 (the whole usage is then absent, and the pipeline warns).
 */

const finishOf = (chunks: ChatChunk[]) => chunks.find((c) => c.type === "finish");
const context = { service: "vLLM", baseUrl: "http://vllm.test:8000" };

describe("OpenAI-compatible replies (vLLM, llama-server, LoRAX /v1)", () => {
  const completion = (usage: unknown) => ({
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1741570283,
    model: "herd-code",
    choices: [{ index: 0, message: { role: "assistant", content: "Hi" }, finish_reason: "stop" }],
    ...(usage === undefined ? {} : { usage }),
  });

  it("a JSON reply's usage becomes the finish chunk's counts", () => {
    const chunks = [
      ...chatChunksFromJson(
        completion({ prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 }),
        context,
        "v1/chat/completions",
      ),
    ];
    expect(finishOf(chunks)).toEqual({
      type: "finish",
      finishReason: "stop",
      usage: { inputTokens: 19, outputTokens: 10 },
    });
  });

  it.each([
    ["no usage", undefined],
    ["usage null", null],
    [
      "completion_tokens null (LoRAX's UsageInfo has it optional)",
      { prompt_tokens: 19, total_tokens: 19, completion_tokens: null },
    ],
    ["no prompt_tokens", { completion_tokens: 10 }],
    ["a count that is not a whole number", { prompt_tokens: "19", completion_tokens: 10 }],
  ])("a JSON reply with %s gives no usage, not a 0", (_, usage) => {
    const chunks = [...chatChunksFromJson(completion(usage), context, "v1/chat/completions")];
    expect(finishOf(chunks)).toEqual({ type: "finish", finishReason: "stop" });
  });

  const sse = (events: object[]) => {
    const text = `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")}data: [DONE]\n\n`;
    return new Response(text).body!;
  };
  const chunk = (choices: object[], usage?: unknown) => ({
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    created: 1741570283,
    model: "herd-code",
    choices,
    ...(usage === undefined ? {} : { usage }),
  });
  const collect = async (events: object[]) => {
    const out: ChatChunk[] = [];
    for await (const c of chatChunksFromSse(sse(events), context, "v1/chat/completions")) out.push(c);
    return out;
  };

  it("a stream's include_usage chunk (vLLM, llama-server) gives the exact counts", async () => {
    const chunks = await collect([
      chunk([{ index: 0, delta: { role: "assistant", content: "Hi" }, finish_reason: null }], null),
      chunk([{ index: 0, delta: {}, finish_reason: "stop" }], null),
      chunk([], { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 }),
    ]);
    expect(finishOf(chunks)).toMatchObject({ usage: { inputTokens: 9, outputTokens: 12 } });
  });

  it("LoRAX's finish chunk carrying usage (v0.11+) gives the exact counts", async () => {
    const chunks = await collect([
      chunk([{ index: 0, delta: { role: "assistant", content: "Hi" }, finish_reason: null }]),
      chunk([{ index: 0, delta: {}, finish_reason: "stop" }], {
        prompt_tokens: 5,
        total_tokens: 8,
        completion_tokens: 3,
      }),
    ]);
    expect(finishOf(chunks)).toMatchObject({ usage: { inputTokens: 5, outputTokens: 3 } });
  });

  it("a stream with no usage (LoRAX before v0.11) gives no usage", async () => {
    const chunks = await collect([
      chunk([{ index: 0, delta: { role: "assistant", content: "Hi" }, finish_reason: null }]),
      chunk([{ index: 0, delta: {}, finish_reason: "stop" }]),
    ]);
    expect(finishOf(chunks)).toEqual({ type: "finish", finishReason: "stop" });
  });
});

describe("LoRAX /generate_stream details", () => {
  const events = (details: object) => [
    { token: { id: 1, text: "Hi", logprob: -0.1, special: false }, generated_text: null, details: null },
    { token: { id: 2, text: "</s>", logprob: -0.1, special: true }, generated_text: "Hi", details },
  ];
  const collect = async (details: object) => {
    const out: ChatChunk[] = [];
    const source = (async function* () {
      yield* events(details);
    })();
    for await (const c of chunksFromGenerateStream(source, [], () => new Error("closed early"))) out.push(c);
    return out;
  };

  it("prompt_tokens and generated_tokens are the counts", async () => {
    const chunks = await collect({
      finish_reason: "eos_token",
      prompt_tokens: 12,
      generated_tokens: 2,
      seed: null,
    });
    expect(finishOf(chunks)).toMatchObject({ usage: { inputTokens: 12, outputTokens: 2 } });
  });

  it("details without prompt_tokens (LoRAX before v0.6) give no usage, not 0 input tokens", async () => {
    const chunks = await collect({ finish_reason: "eos_token", generated_tokens: 2, seed: null });
    expect(finishOf(chunks)).toEqual({ type: "finish", finishReason: "stop" });
  });
});

describe("Ollama's done line", () => {
  const request: ChatRequest = {
    target: { model: "herd-code", adapters: [], base: false },
    messages: [{ role: "user", content: "hi" }],
    params: {},
  };
  const done = (extra: object) => ({
    model: "herd-code",
    created_at: "2025-07-07T20:22:19.184Z",
    message: { role: "assistant", content: "" },
    done: true,
    done_reason: "stop",
    total_duration: 4883583458,
    ...extra,
  });
  const finish = (extra: object) => finishOf(new OllamaReplyTranslator(request).translate(done(extra)));

  it("prompt_eval_count and eval_count are the counts", () => {
    expect(finish({ prompt_eval_count: 26, eval_count: 282 })).toMatchObject({
      usage: { inputTokens: 26, outputTokens: 282 },
    });
  });

  it("no eval_count is Ollama's 0 (Go omits a zero count)", () => {
    expect(finish({ prompt_eval_count: 26 })).toMatchObject({ usage: { inputTokens: 26, outputTokens: 0 } });
  });

  it("no prompt_eval_count (Ollama before v0.2 on a cached prompt) gives no usage, not 0 input tokens", () => {
    expect(finish({ eval_count: 282 })).toEqual({ type: "finish", finishReason: "stop" });
  });
});
