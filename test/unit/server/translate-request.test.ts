import { describe, expect, it } from "vitest";
import type { InvalidInputError } from "../../../src/core/errors.js";
import { chatCompletionRequestSchema } from "../../../src/server/request-schema.js";
import { translateChatRequest } from "../../../src/server/translate-request.js";
import { validate } from "../../../src/server/validate.js";

const translate = (body: Record<string, unknown>) =>
  translateChatRequest(validate(chatCompletionRequestSchema, { model: "herd", ...body }));

const user = [{ role: "user", content: "hi" }];

describe("translateChatRequest", () => {
  it("applies Herd's sampling defaults when the request sets none", () => {
    const { request, stream, includeUsage } = translate({ messages: user });
    expect(request.params).toEqual({ temperature: 0.5, topK: 50, topP: 1, repetitionPenalty: 1 });
    // no top_experts: the router's configured topExperts applies (1 by default)
    expect(request.topExperts).toBeUndefined();
    expect(translate({ messages: user, top_experts: 2 }).request.topExperts).toBe(2);
    expect(stream).toBe(false);
    expect(includeUsage).toBe(false);
  });

  it("maps every sampling and length field, preferring max_completion_tokens", () => {
    const { request } = translate({
      messages: user,
      temperature: 0,
      top_p: 0.9,
      top_k: 10,
      repetition_penalty: 1.1,
      max_tokens: 10,
      max_completion_tokens: 20,
      stop: "END",
      seed: 42,
      top_experts: 2,
    });
    expect(request.params).toEqual({
      temperature: 0,
      topP: 0.9,
      topK: 10,
      repetitionPenalty: 1.1,
      maxTokens: 20,
      stop: ["END"],
      seed: 42,
    });
    expect(request.topExperts).toBe(2);
    expect(translate({ messages: user, max_tokens: 10 }).request.params?.maxTokens).toBe(10);
    expect(translate({ messages: user, stop: ["a", "b"] }).request.params?.stop).toEqual(["a", "b"]);
  });

  it("treats null fields as absent", () => {
    const { request } = translate({ messages: user, temperature: null, stop: null, tools: null, seed: null });
    expect(request.params).toEqual({ temperature: 0.5, topK: 50, topP: 1, repetitionPenalty: 1 });
    expect(request.tools).toBeUndefined();
  });

  it("maps every message role; developer becomes system and text parts are joined", () => {
    const { request } = translate({
      messages: [
        { role: "developer", content: "Be brief." },
        {
          role: "system",
          content: [
            { type: "text", text: "One" },
            { type: "text", text: "Two" },
          ],
        },
        { role: "user", content: [{ type: "text", text: "Weather in Paris?" }] },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "11 C" },
      ],
    });
    expect(request.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "system", content: "One\nTwo" },
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: "",
        toolCalls: [{ id: "call_1", name: "get_weather", arguments: { city: "Paris" } }],
      },
      { role: "tool", content: "11 C", toolCallId: "call_1", name: "get_weather" },
    ]);
  });

  it("keeps tool call arguments that are not a JSON object as raw text, so agent loops go on", () => {
    const args = (text: string) =>
      translate({
        messages: [
          {
            role: "assistant",
            tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: text } }],
          },
        ],
      }).request.messages[0]!.toolCalls![0]!.arguments;
    expect(args("{city:")).toEqual({ _raw: "{city:" });
    expect(args("[1]")).toEqual({ _raw: "[1]" });
    expect(args('{"city":"Paris"}')).toEqual({ city: "Paris" });
  });

  it("refuses image parts with a message that says to send text", () => {
    const call = () =>
      translate({
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://x/y.png" } }] }],
      });
    expect(call).toThrow(/messages\[0\]\.content\[0\].*text parts/);
  });

  it("maps tools, tool_choice and response_format", () => {
    const { request } = translate({
      messages: user,
      tools: [
        { type: "function", function: { name: "get_weather", parameters: { type: "object" } } },
        { type: "function", function: { name: "noop", description: "does nothing" } },
      ],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      response_format: { type: "json_schema", json_schema: { name: "w", schema: { type: "object" } } },
    });
    expect(request.tools).toEqual([
      { name: "get_weather", parameters: { type: "object" } },
      { name: "noop", description: "does nothing", parameters: { type: "object", properties: {} } },
    ]);
    expect(request.toolChoice).toEqual({ name: "get_weather" });
    expect(request.responseFormat).toEqual({ type: "json_schema", name: "w", schema: { type: "object" } });
    // "required" with no tool to call could only be answered in text: refused.
    expect(() => translate({ messages: user, tool_choice: "required" })).toThrow(
      /"required" needs at least one tool/,
    );
    expect(
      translate({ messages: user, response_format: { type: "json_object" } }).request.responseFormat,
    ).toEqual({
      type: "json",
    });
  });

  it("reads stream and stream_options.include_usage", () => {
    expect(
      translate({ messages: user, stream: true, stream_options: { include_usage: true } }),
    ).toMatchObject({
      stream: true,
      includeUsage: true,
    });
    expect(
      translate({ messages: user, stream: false, stream_options: { include_usage: true } }).includeUsage,
    ).toBe(false);
  });
});

describe("validate", () => {
  const error = (body: unknown) => {
    try {
      validate(chatCompletionRequestSchema, body);
    } catch (e) {
      return e as InvalidInputError;
    }
    throw new Error("expected a validation error");
  };

  it("names the missing or wrong field", () => {
    expect(error({ messages: user }).message).toBe("Missing required field 'model'.");
    expect(error({ messages: user }).param).toBe("model");
    expect(error({ model: "herd", messages: user, temperature: "hot" }).param).toBe("temperature");
    expect(error({ model: "herd", messages: user, temperature: 3 }).message).toMatch(/'temperature'.*<=2/);
    expect(error({ model: "herd", messages: [] }).message).toMatch(/'messages'.*at least one message/);
    expect(error({ model: "herd", messages: [{ role: "robot", content: "x" }] }).param).toBe(
      "messages[0].role",
    );
    expect(error({ model: "herd", messages: user, tool_choice: "maybe" }).message).toMatch(/"none", "auto"/);
  });

  it("refuses a body that is not an object", () => {
    expect(error([1, 2]).message).toMatch(/expected object, received array/);
    expect(error(null).param).toBeUndefined();
  });
});

describe("tool_choice", () => {
  it("must name a function given in tools", () => {
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
    const named = (name: string) => ({ type: "function", function: { name } });
    expect(
      translate({ messages: user, tools, tool_choice: named("get_weather") }).request.toolChoice,
    ).toEqual({
      name: "get_weather",
    });
    expect(() => translate({ messages: user, tools, tool_choice: named("get_time") })).toThrow(
      /'tool_choice': the function "get_time" is not in 'tools' \(get_weather\)/,
    );
  });
});
