import {
  AIMessage,
  type AIMessageChunk,
  HumanMessage,
  SystemMessage,
  ToolMessage,
} from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { routingOf } from "../../../src/core/chat-model.js";
import { InvalidInputError, ModelNotFoundError } from "../../../src/core/errors.js";
import { FallbackPlugin } from "../../../src/plugins/fallback.js";
import {
  chatStream,
  modelNotFound,
  ndjsonResponse,
  ollamaError,
  readFixture,
} from "../../fixtures/ollama/ollama-mock.js";
import { chatModelHarness } from "./harness.js";

const { state, mock, model } = chatModelHarness();

describe("HerdChatModel: invoke, stream, batch", () => {
  it("identifies itself to LangChain", () => {
    const { chat } = model();
    expect(chat._llmType()).toBe("herd");
    expect(chat.getName()).toBe("HerdChatModel");
  });

  it("invoke routes the prompt and returns the answer with usage and the routing decision", async () => {
    const { chat } = model();
    const reply = await chat.invoke("Write a Python function that reverses a list");
    expect(reply).toBeInstanceOf(AIMessage);
    expect(reply.content).toBe("The sky");
    expect(mock.requests[0]!.model).toBe("herd-code");
    expect(reply.usage_metadata).toMatchObject({ input_tokens: 26, output_tokens: 282, total_tokens: 308 });
    expect(reply.response_metadata).toMatchObject({
      model_name: "herd-code",
      finish_reason: "stop",
      herd: { model: "herd-code", reason: "routed", experts: [{ name: "code", weight: 1 }] },
    });
    expect(routingOf(reply)!.ranked.map((e: { name: string }) => e.name)).toEqual([
      "code",
      "creative",
      "math",
    ]);
  });

  it("stream yields tokens as they arrive, and the chunks concatenate to invoke's result", async () => {
    const { chat } = model();
    const invoked = await chat.invoke("Write a haiku");
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await chat.stream("Write a haiku")) chunks.push(chunk);
    expect(chunks.filter((c) => c.content !== "").map((c) => c.content)).toEqual(["The", " sky"]);
    const joined = chunks.reduce((a, b) => a.concat(b));
    expect(joined.content).toBe(invoked.content);
    expect(joined.usage_metadata).toEqual(invoked.usage_metadata);
    expect(routingOf(joined)!.model).toBe(routingOf(invoked)!.model);
    expect(joined.response_metadata.finish_reason).toBe("stop");
  });

  it("leaves usage_metadata out when the backend reported no counts, and says so in herd.warnings", async () => {
    const { chat } = model();
    // Ollama before v0.2 left prompt_eval_count out for a cached prompt.
    state.reply = () => ndjsonResponse(chatStream(["The", " sky"], { promptEvalCount: null, evalCount: 2 }));
    const reply = await chat.invoke("Write a haiku");
    expect(reply.content).toBe("The sky");
    expect(reply.usage_metadata).toBeUndefined();
    expect(routingOf(reply)!.warnings).toEqual([
      expect.stringMatching(/Chat provider "ollama" reported no token usage for this answer/),
    ]);
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await chat.stream("Write a haiku")) chunks.push(chunk);
    expect(chunks.reduce((a, b) => a.concat(b)).usage_metadata).toBeUndefined();
  });

  it("batch routes each input on its own", async () => {
    const { chat } = model();
    const replies = await chat.batch(["Write a Python function", "Write a haiku", "What is 2 + 2?"]);
    expect(replies).toHaveLength(3);
    expect(mock.requests.map((r) => r.model).sort()).toEqual(["herd-code", "herd-creative", "herd-math"]);
    expect(replies.map((r) => routingOf(r)!.model).sort()).toEqual([
      "herd-code",
      "herd-creative",
      "herd-math",
    ]);
  });

  it("sends system, user and assistant turns in order", async () => {
    const { chat } = model();
    await chat.invoke([
      new SystemMessage("Be brief."),
      new HumanMessage("Hi"),
      new AIMessage("Hello!"),
      new HumanMessage("Write a poem"),
    ]);
    expect(mock.requests[0]!.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello!" },
      { role: "user", content: "Write a poem" },
    ]);
  });

  it("rejects non-text content blocks with InvalidInputError", async () => {
    const { chat } = model();
    const message = new HumanMessage({
      content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }],
    });
    await expect(chat.invoke([message])).rejects.toBeInstanceOf(InvalidInputError);
    expect(mock.requests).toHaveLength(0);
  });
});

describe("HerdChatModel: events, callbacks and tracing", () => {
  it("streamEvents reports start, each token, the routing decision and the end", async () => {
    const { chat } = model();
    const events: { event: string; name: string; data: Record<string, unknown> }[] = [];
    for await (const event of chat.streamEvents("Write a haiku", { version: "v2" })) events.push(event);
    const kinds = events.map((e) => e.event);
    expect(kinds[0]).toBe("on_chat_model_start");
    expect(kinds.filter((k) => k === "on_chat_model_stream").length).toBeGreaterThanOrEqual(2);
    expect(kinds.at(-1)).toBe("on_chat_model_end");
    const routing = events.find((e) => e.event === "on_custom_event" && e.name === "herd_routing");
    expect(routing?.data).toMatchObject({ model: "herd-creative", experts: [{ name: "creative" }] });
  });

  it("gives callbacks the tokens, the invocation params and the routing decision in the run output", async () => {
    const { chat } = model({ topExperts: 1, temperature: 0.3 });
    const tokens: string[] = [];
    let params: Record<string, unknown> | undefined;
    let output: { generations: { message?: AIMessage }[][]; llmOutput?: Record<string, unknown> } | undefined;
    await chat.invoke("Write a haiku", {
      callbacks: [
        {
          handleChatModelStart: (_llm, _messages, _runId, _parent, extra) => {
            params = extra?.invocation_params as Record<string, unknown>;
          },
          handleLLMNewToken: (token) => void tokens.push(token),
          handleLLMEnd: (result) => {
            output = result as typeof output;
          },
        },
      ],
    });
    expect(tokens.join("")).toBe("The sky");
    expect(params).toMatchObject({ topExperts: 1, temperature: 0.3 });
    expect(output!.generations[0]![0]!.message!.response_metadata.herd).toMatchObject({
      model: "herd-creative",
    });
  });
});

describe("HerdChatModel: call options", () => {
  it("maps sampling options and stop sequences to the backend, call options over defaults", async () => {
    const { chat } = model({ temperature: 0.9, topK: 5 });
    await chat.invoke("Write a haiku", {
      temperature: 0.1,
      topP: 0.5,
      repetitionPenalty: 1.1,
      maxTokens: 32,
      stop: ["\n"],
      seed: 3,
    });
    expect(mock.requests[0]!.options).toEqual({
      temperature: 0.1,
      top_k: 5,
      top_p: 0.5,
      repeat_penalty: 1.1,
      stop: ["\n"],
      num_predict: 32,
      seed: 3,
    });
  });

  it("stop sequences bound with withConfig reach the backend, and a length finish is reported", async () => {
    state.reply = () => ndjsonResponse(readFixture("chat-length.ndjson"));
    const { chat } = model();
    const reply = await chat.withConfig({ stop: ["END"] }).invoke("Write a haiku");
    expect(mock.requests[0]!.options).toEqual({ stop: ["END"] });
    expect(reply.response_metadata.finish_reason).toBe("length");
  });

  it("expert forces an expert; topExperts reaches the router", async () => {
    const { chat, router } = model();
    const forced = await chat.invoke("Write a haiku", { expert: "math" });
    expect(mock.requests[0]!.model).toBe("herd-math");
    expect(routingOf(forced)!.reason).toBe("forced");
    await chat.invoke("Write a haiku", { topExperts: 2 });
    expect(router.calls.at(-1)!.options.topExperts).toBe(2);
  });

  it("rejects invalid call options with InvalidInputError naming the option, without calling the backend", async () => {
    const { chat } = model();
    for (const [options, field] of [
      [{ temperature: -1 }, "temperature"],
      [{ topExperts: 0 }, "topExperts"],
      [{ topP: 2 }, "topP"],
      [{ maxTokens: 1.5 }, "maxTokens"],
    ] as const) {
      const error = await chat.invoke("hi", options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).param).toBe(field);
    }
    expect(() => model({ temperature: -2 })).toThrow(InvalidInputError);
    expect(mock.requests).toHaveLength(0);
  });

  it("aborts a running stream when the signal fires", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    state.reply = () =>
      ndjsonResponse(`${readFixture("chat-stream.ndjson").split("\n")[0]}\n`, { holdOpen: held });
    const { chat } = model();
    const controller = new AbortController();
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of await chat.stream("Write a haiku", { signal: controller.signal })) {
        seen.push(String(chunk.content));
        controller.abort();
      }
    })().catch((e: unknown) => e);
    release();
    expect(seen).toEqual(["The"]);
    expect((error as Error).name).toMatch(/Abort/);
  });

  it("an already aborted signal rejects invoke without calling the backend", async () => {
    const { chat } = model();
    await expect(chat.invoke("hi", { signal: AbortSignal.abort() })).rejects.toThrow();
    expect(mock.requests).toHaveLength(0);
  });
});

describe("HerdChatModel: errors, retries and fallback", () => {
  it("retries a retryable backend error through the model's caller", async () => {
    let calls = 0;
    state.reply = () =>
      ++calls === 1
        ? ollamaError(503, "server busy, please try again.  maximum pending requests exceeded")
        : ndjsonResponse(readFixture("chat-stream.ndjson"));
    const { chat } = model({ maxRetries: 1 });
    const reply = await chat.invoke("Write a haiku");
    expect(reply.content).toBe("The sky");
    expect(mock.requests).toHaveLength(2);
  });

  it("does not retry a missing model: ModelNotFoundError names it and `herd build`", async () => {
    state.reply = (body) => modelNotFound(body.model);
    const { chat } = model({ maxRetries: 3 });
    const error = await chat.invoke("Write a haiku").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect((error as Error).message).toMatch(/herd-creative.*herd build/);
    expect(mock.requests).toHaveLength(1);
  });

  it("does not retry Herd errors marked not retryable, even with a 5xx status (a failing plugin)", async () => {
    let calls = 0;
    const broken = {
      name: "broken",
      onRequest: () => {
        calls++;
        throw new Error("bug");
      },
    };
    const { chat } = model({ maxRetries: 2 }, [broken]);
    await expect(chat.invoke("hi")).rejects.toThrow(/Plugin "broken" failed in onRequest: bug/);
    expect(calls).toBe(1);
  });

  it("with the fallback plugin, a failing expert model is answered by the base model with a warning", async () => {
    state.reply = (body) =>
      body.model === "herd-creative"
        ? modelNotFound(body.model)
        : ndjsonResponse(readFixture("chat-stream.ndjson"));
    const { chat } = model({}, [new FallbackPlugin()]);
    const reply = await chat.invoke("Write a haiku");
    expect(mock.requests.map((r) => r.model)).toEqual(["herd-creative", "llama3.2"]);
    expect(routingOf(reply)!).toMatchObject({ model: "llama3.2", base: true });
    expect(routingOf(reply)!.warnings.join()).toMatch(/herd-creative.*base model "llama3.2"/);
  });

  it("raises a mid-stream backend error from stream()", async () => {
    state.reply = () => ndjsonResponse(readFixture("chat-error-midstream.ndjson"));
    const { chat } = model();
    await expect(chat.invoke("Write a haiku")).rejects.toThrow(
      /an error was encountered while running the model/,
    );
  });
});

describe("HerdChatModel: tools", () => {
  const weather = {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather in a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  };

  it("bindTools sends the tools and returns tool calls with ids and parsed arguments", async () => {
    state.reply = () => ndjsonResponse(readFixture("chat-tool-call.ndjson"));
    const { chat } = model();
    const reply = await chat.bindTools([weather]).invoke("What's the weather in Tokyo?");
    expect(mock.requests[0]!.tools).toEqual([weather]);
    expect(reply.tool_calls).toEqual([
      { id: "call_k3x9a1b2", name: "get_weather", args: { city: "Tokyo" }, type: "tool_call" },
    ]);
    expect(reply.response_metadata.finish_reason).toBe("tool_calls");
  });

  it("returns parallel tool calls in order", async () => {
    state.reply = () => ndjsonResponse(readFixture("chat-parallel-tool-calls.ndjson"));
    const { chat } = model();
    const reply = await chat.bindTools([weather]).invoke("Weather in Tokyo and Paris?");
    expect(reply.tool_calls?.map((c) => [c.id, c.args.city])).toEqual([
      ["call_k3x9a1b2", "Tokyo"],
      ["call_p7m2q8z4", "Paris"],
    ]);
  });

  it("streams tool-call chunks that concatenate to the tool calls", async () => {
    state.reply = () => ndjsonResponse(readFixture("chat-parallel-tool-calls.ndjson"));
    const { chat } = model();
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await chat.bindTools([weather]).stream("Weather in Tokyo and Paris?"))
      chunks.push(chunk);
    expect(chunks.flatMap((c) => c.tool_call_chunks ?? []).map((c) => c.index)).toEqual([0, 1]);
    const joined = chunks.reduce((a, b) => a.concat(b));
    expect(joined.tool_calls?.map((c) => c.args)).toEqual([{ city: "Tokyo" }, { city: "Paris" }]);
  });

  it("sends tool results back with the tool's name and call id", async () => {
    const { chat } = model();
    await chat.bindTools([weather]).invoke([
      new HumanMessage("Weather in Tokyo?"),
      new AIMessage({
        content: "",
        tool_calls: [{ id: "call_k3x9a1b2", name: "get_weather", args: { city: "Tokyo" } }],
      }),
      new ToolMessage({ content: "11 degrees celsius", tool_call_id: "call_k3x9a1b2" }),
    ]);
    expect(mock.requests[0]!.messages.slice(1)).toEqual([
      {
        role: "assistant",
        content: "",
        tool_calls: [
          { id: "call_k3x9a1b2", function: { name: "get_weather", arguments: { city: "Tokyo" } } },
        ],
      },
      {
        role: "tool",
        content: "11 degrees celsius",
        tool_name: "get_weather",
        tool_call_id: "call_k3x9a1b2",
      },
    ]);
  });

  it("tool_choice naming a tool sends only that tool and forces a call of it; none sends no tools", async () => {
    const other = { ...weather, function: { ...weather.function, name: "get_time" } };
    const { chat } = model();
    // Ollama constrained by the forced-call schema in `format` answers with that JSON as content.
    state.reply = () =>
      ndjsonResponse(chatStream(['{"name": "get_time", ', '"arguments": {"city": "Oslo"}}']));
    const forced = await chat.bindTools([weather, other], { tool_choice: "get_time" }).invoke("time?");
    state.reply = () => ndjsonResponse(readFixture("chat-stream.ndjson"));
    await chat.bindTools([weather, other], { tool_choice: "none" }).invoke("hi");
    expect(mock.requests[0]!.tools?.map((t) => t.function.name)).toEqual(["get_time"]);
    expect(mock.requests[0]!.format).toMatchObject({ properties: { name: { const: "get_time" } } });
    expect(forced.tool_calls).toEqual([
      expect.objectContaining({ name: "get_time", args: { city: "Oslo" } }),
    ]);
    expect(forced.response_metadata.finish_reason).toBe("tool_calls");
    expect(mock.requests[1]!.tools).toBeUndefined();
  });
});

describe("HerdChatModel: structured output", () => {
  const person = {
    title: "person",
    type: "object",
    properties: { name: { type: "string" }, age: { type: "integer" } },
    required: ["name", "age"],
  };
  const jsonReply = () => ndjsonResponse(chatStream(['{"name":', '"Ada",', '"age":36}']));

  it("constrains the answer with the JSON schema as Ollama's format and parses it", async () => {
    state.reply = jsonReply;
    const { chat } = model();
    const parsed = await chat.withStructuredOutput(person).invoke("Who wrote the first program?");
    expect(parsed).toEqual({ name: "Ada", age: 36 });
    expect(mock.requests[0]!.format).toMatchObject({ type: "object", required: ["name", "age"] });
  });

  it("includeRaw returns the raw message next to the parsed value", async () => {
    state.reply = jsonReply;
    const { chat } = model();
    const result = await chat.withStructuredOutput(person, { includeRaw: true }).invoke("Who?");
    expect(result.parsed).toEqual({ name: "Ada", age: 36 });
    expect(result.raw.content).toBe('{"name":"Ada","age":36}');
    expect(routingOf(result.raw)!.model).toBeDefined();
  });

  it("validates with a zod schema", async () => {
    const { z } = await import("zod");
    state.reply = jsonReply;
    const { chat } = model();
    const schema = z.object({ name: z.string(), age: z.number() });
    expect(await chat.withStructuredOutput(schema).invoke("Who?")).toEqual({ name: "Ada", age: 36 });
    state.reply = () => ndjsonResponse(chatStream(['{"name":"Ada"}']));
    await expect(chat.withStructuredOutput(schema).invoke("Who?")).rejects.toThrow();
  });

  it("jsonMode asks for plain JSON; functionCalling forces a tool call and reads its arguments", async () => {
    state.reply = jsonReply;
    const { chat } = model();
    expect(await chat.withStructuredOutput(person, { method: "jsonMode" }).invoke("Who?")).toEqual({
      name: "Ada",
      age: 36,
    });
    expect(mock.requests[0]!.format).toBe("json");
    state.reply = () =>
      ndjsonResponse(
        chatStream([], {
          toolCalls: [{ id: "call_a1b2c3d4", name: "person", arguments: { name: "Ada", age: 36 } }],
        }),
      );
    expect(await chat.withStructuredOutput(person, { method: "functionCalling" }).invoke("Who?")).toEqual({
      name: "Ada",
      age: 36,
    });
    expect(mock.requests[1]!.tools?.map((t) => t.function.name)).toEqual(["person"]);
  });
});
