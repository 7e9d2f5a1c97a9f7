import { describe, expect, it } from "vitest";
import type { ChatChunk } from "../../../src/core/chat.js";
import { toolMode } from "../../../src/providers/llamacpp/chat-tools.js";
import { PushIterator } from "../../../src/providers/llamacpp/push-iterator.js";
import { ToolOutput } from "../../../src/providers/llamacpp/tool-output.js";

/** How the llama.cpp provider turns node-llama-cpp's callbacks into tool-call chunks. */

const weather = {
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } } },
};
const time = { name: "get_time", parameters: { type: "object" } };
const request = (toolChoice: "auto" | "required", tools = [weather, time]) => ({
  target: { model: "base", adapters: [], base: true },
  messages: [{ role: "user" as const, content: "hi" }],
  params: {},
  tools,
  toolChoice,
});

async function drain(out: PushIterator<ChatChunk>): Promise<ChatChunk[]> {
  out.end();
  const chunks: ChatChunk[] = [];
  for await (const c of out) chunks.push(c);
  return chunks;
}

describe("ToolOutput", () => {
  it("auto: function-call params stream as a head (id, name) and argument deltas, per call index", async () => {
    const out = new PushIterator<ChatChunk>();
    const output = new ToolOutput(toolMode(request("auto")), out);
    output.onParamsChunk({ callIndex: 0, functionName: "get_weather", paramsChunk: '{"city": ' });
    output.onParamsChunk({ callIndex: 1, functionName: "get_time", paramsChunk: "{" });
    output.onParamsChunk({ callIndex: 0, functionName: "get_weather", paramsChunk: '"Tokyo"}' });
    output.onParamsChunk({ callIndex: 1, functionName: "get_time", paramsChunk: "}" });
    output.finish(false, [
      { functionName: "get_weather", params: { city: "Tokyo" } },
      { functionName: "get_time", params: {} },
    ]);
    const chunks = await drain(out);
    expect(
      chunks.map((c) => (c.type === "tool-call" ? [c.index, c.name, c.argumentsDelta] : c.type)),
    ).toEqual([
      [0, "get_weather", '{"city": '],
      [1, "get_time", "{"],
      [0, undefined, '"Tokyo"}'],
      [1, undefined, "}"],
    ]);
    expect(output.calls).toBe(2);
  });

  it("auto: text passes through as text chunks", async () => {
    const out = new PushIterator<ChatChunk>();
    const output = new ToolOutput(toolMode(request("auto")), out);
    output.onText("Hello");
    output.finish(false, []);
    expect(await drain(out)).toEqual([{ type: "text", text: "Hello" }]);
  });

  it("required with several tools: the {name, arguments} text becomes one call at the end", async () => {
    const out = new PushIterator<ChatChunk>();
    const output = new ToolOutput(toolMode(request("required")), out);
    output.onText('{"name": "get_time", ');
    output.onText('"arguments": {}}');
    output.finish(false, []);
    expect(await drain(out)).toEqual([
      expect.objectContaining({ type: "tool-call", index: 0, name: "get_time", argumentsDelta: "{}" }),
    ]);
  });

  it("required with one tool: the arguments stream, and a cut is closed by a last delta", async () => {
    const out = new PushIterator<ChatChunk>();
    const output = new ToolOutput(toolMode(request("required", [weather])), out);
    output.onText('{"city": "To');
    output.onText("ky");
    output.finish(true, []);
    const chunks = await drain(out);
    const args = chunks.map((c) => (c.type === "tool-call" ? c.argumentsDelta : "")).join("");
    expect(chunks[0]).toMatchObject({ type: "tool-call", name: "get_weather" });
    expect(JSON.parse(args)).toEqual({ city: "Toky" });
  });
});
