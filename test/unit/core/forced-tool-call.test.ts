import { describe, expect, it } from "vitest";
import type { ToolDefinition } from "../../../src/core/chat.js";
import {
  allowedTools,
  closeJsonPrefix,
  forcedToolCallSchema,
  parseForcedToolCall,
} from "../../../src/core/forced-tool-call.js";
import { toGbnfSchema, toHistory } from "../../../src/providers/llamacpp/chat-tools.js";

const a: ToolDefinition = {
  name: "a",
  parameters: { type: "object", properties: { x: { type: "string" } } },
};
const b: ToolDefinition = { name: "b", parameters: { type: "object" } };

describe("forced tool calls", () => {
  it("allows the named tool, every tool, or none", () => {
    expect(allowedTools([a, b], { name: "b" })).toEqual([b]);
    expect(allowedTools([a, b], "required")).toEqual([a, b]);
    expect(allowedTools([a, b], "none")).toEqual([]);
  });

  it("builds one object schema for one tool and alternatives for several", () => {
    expect(forcedToolCallSchema([a])).toMatchObject({
      properties: { name: { const: "a" }, arguments: a.parameters },
    });
    expect(forcedToolCallSchema([a, b], "anyOf").anyOf).toHaveLength(2);
    expect(forcedToolCallSchema([a, b]).oneOf).toHaveLength(2);
  });

  it("reads the answer back, refusing a name that is not allowed", () => {
    expect(parseForcedToolCall('{"name":"a","arguments":{"x":"1"}}', [a])).toEqual({
      name: "a",
      arguments: '{"x":"1"}',
    });
    expect(parseForcedToolCall('{"name":"b","arguments":{}}', [a])).toBeUndefined();
    expect(parseForcedToolCall("not json", [a])).toBeUndefined();
  });

  it("closes a cut-off answer only when told it was cut", () => {
    const cut = '{"name": "a", "arguments": {"x": "hel';
    expect(parseForcedToolCall(cut, [a])).toBeUndefined();
    expect(parseForcedToolCall(cut, [a], true)).toEqual({ name: "a", arguments: '{"x":"hel"}' });
  });

  it("closes JSON cut inside strings, after keys, colons, commas and escapes", () => {
    expect(JSON.parse(closeJsonPrefix('{"a": [1, 2, '))).toEqual({ a: [1, 2] });
    expect(JSON.parse(closeJsonPrefix('{"a": {"b": "x\\'))).toEqual({ a: { b: "x" } });
    expect(JSON.parse(closeJsonPrefix('{"a": 1, "b":'))).toEqual({ a: 1 });
    expect(JSON.parse(closeJsonPrefix('{"a": "q\\"r'))).toEqual({ a: 'q"r' });
  });
});

describe("llama.cpp tool mapping", () => {
  it("renames anyOf to oneOf at every depth (node-llama-cpp's grammar reads only oneOf)", () => {
    expect(
      toGbnfSchema({ type: "object", properties: { v: { anyOf: [{ type: "string" }, { type: "null" }] } } }),
    ).toEqual({ type: "object", properties: { v: { oneOf: [{ type: "string" }, { type: "null" }] } } });
  });

  it("turns tool calls and their results into function calls of the model turn, which continues after them", () => {
    const history = toHistory([
      { role: "user", content: "Weather in Tokyo and Paris?" },
      {
        role: "assistant",
        content: "",
        toolCalls: [
          { id: "c1", name: "w", arguments: { city: "Tokyo" } },
          { id: "c2", name: "w", arguments: { city: "Paris" } },
        ],
      },
      { role: "tool", content: "7 degrees", toolCallId: "c2" },
      { role: "tool", content: "11 degrees", toolCallId: "c1" },
    ]);
    expect(history).toEqual([
      { type: "user", text: "Weather in Tokyo and Paris?" },
      {
        type: "model",
        response: [
          { type: "functionCall", name: "w", params: { city: "Tokyo" }, result: "11 degrees" },
          { type: "functionCall", name: "w", params: { city: "Paris" }, result: "7 degrees" },
        ],
      },
    ]);
  });

  it("refuses a tool result that answers no call", () => {
    expect(() =>
      toHistory([
        { role: "user", content: "hi" },
        { role: "tool", content: "x", toolCallId: "c9" },
      ]),
    ).toThrow(/messages\[1\] is a tool result/);
  });
});
