import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { chatStream, ndjsonResponse } from "../../fixtures/ollama/ollama-mock.js";
import { chatModelHarness } from "./harness.js";

/** HerdChatModel keeps LangChain's promises: standard metadata, foreign content blocks, structured output tracing. */

const { state, mock, model } = chatModelHarness();

describe("HerdChatModel: LangChain's standard keys and message blocks", () => {
  it("response_metadata carries model (LangChain's standard key) and model_name", async () => {
    const reply = await model().chat.invoke("Write a Python function that reverses a list");
    expect(reply.response_metadata).toMatchObject({ model: "herd-code", model_name: "herd-code" });
  });

  it("AI messages with tool_use, reasoning and thinking blocks are accepted: the blocks are dropped, the calls sent", async () => {
    const history = [
      new HumanMessage("Weather in Tokyo?"),
      new AIMessage({
        content: [
          { type: "thinking", thinking: "The user wants the weather.", signature: "sig" },
          { type: "reasoning", reasoning: "Call the tool." },
          { type: "text", text: "Let me check." },
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Tokyo" } },
        ],
        tool_calls: [{ id: "toolu_1", name: "get_weather", args: { city: "Tokyo" }, type: "tool_call" }],
      }),
      new ToolMessage({ content: "11 degrees", tool_call_id: "toolu_1" }),
    ];
    await model().chat.invoke(history);
    const sent = mock.requests[0]!.messages;
    expect(sent[1]).toMatchObject({
      role: "assistant",
      content: "Let me check.",
      tool_calls: [{ id: "toolu_1", function: { name: "get_weather", arguments: { city: "Tokyo" } } }],
    });
    expect(sent[2]).toMatchObject({ role: "tool", content: "11 degrees", tool_name: "get_weather" });
  });

  it("an AI message with only tool_use blocks (no tool_calls) still sends the calls", async () => {
    const history = [
      new HumanMessage("Weather?"),
      new AIMessage({
        content: [{ type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Oslo" } }],
      }),
      new ToolMessage({ content: "3 degrees", tool_call_id: "toolu_2" }),
    ];
    await model().chat.invoke(history);
    expect(mock.requests[0]!.messages[1]!.tool_calls).toEqual([
      { id: "toolu_2", function: { name: "get_weather", arguments: { city: "Oslo" } } },
    ]);
  });

  it("presencePenalty and frequencyPenalty reach the backend; out of range is refused", async () => {
    await model({ presencePenalty: 0.5 }).chat.invoke("hi", { frequencyPenalty: -1 } as object);
    expect(mock.requests[0]!.options).toMatchObject({ presence_penalty: 0.5, frequency_penalty: -1 });
    expect(() => model({ presencePenalty: 3 })).toThrow(/presencePenalty must be a number from -2 to 2/);
  });

  it("image blocks in a human message are still refused, naming the message", async () => {
    const image = new HumanMessage({
      content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AA" } }],
    });
    await expect(model().chat.invoke([image])).rejects.toThrow(
      /messages\[0\] has a "image_url" content block/,
    );
  });
});

describe("HerdChatModel: withStructuredOutput", () => {
  const Person = z.object({ name: z.string(), age: z.number() });

  async function traced(method: "jsonSchema" | "jsonMode" | "functionCalling", schema: unknown) {
    let format: unknown;
    const runnable = model().chat.withStructuredOutput(schema as Record<string, unknown>, {
      method,
      name: "person",
    });
    await runnable.invoke("Who wrote the first program?", {
      callbacks: [
        {
          handleChatModelStart: (_llm, _messages, _runId, _parent, extra) => {
            format = (extra?.options as Record<string, unknown>)?.ls_structured_output_format;
          },
        },
      ],
    });
    return format;
  }

  it("traces LangChain's method names and the plain JSON schema the caller passed", async () => {
    const jsonSchema = {
      type: "object",
      properties: { name: { type: "string" }, age: { type: "number" } },
      required: ["name", "age"],
    };
    state.reply = () => ndjsonResponse(chatStream(['{"name": "Ada", "age": 36}']));
    expect(await traced("jsonSchema", jsonSchema)).toEqual({
      kwargs: { method: "jsonSchema" },
      schema: jsonSchema,
    });
    expect(await traced("jsonMode", jsonSchema)).toEqual({
      kwargs: { method: "jsonMode" },
      schema: jsonSchema,
    });
    state.reply = () =>
      ndjsonResponse(chatStream(['{"name": "person", "arguments": {"name": "Ada", "age": 36}}']));
    expect(await traced("functionCalling", jsonSchema)).toEqual({
      kwargs: { method: "functionCalling" },
      schema: jsonSchema,
    });
  });

  it("a zod schema is traced as its JSON schema, and functionCalling parses the forced call", async () => {
    state.reply = () =>
      ndjsonResponse(chatStream(['{"name": "person", "arguments": {"name": "Ada", "age": 36}}']));
    const format = (await traced("functionCalling", Person)) as { schema: Record<string, unknown> };
    expect(format.schema).toMatchObject({ type: "object", properties: { name: { type: "string" } } });
    expect(format.schema.title).toBeUndefined();
    const parsed = await model()
      .chat.withStructuredOutput(Person, { method: "functionCalling", name: "person" })
      .invoke("Who?");
    expect(parsed).toEqual({ name: "Ada", age: 36 });
  });

  it("an unknown method is a 400 listing the three", () => {
    expect(() => model().chat.withStructuredOutput(Person, { method: "xml" as "jsonMode" })).toThrow(
      /"jsonSchema", "jsonMode" or "functionCalling"/,
    );
  });
});
