import { describe, expect, it } from "vitest";
import { chatStream, readFixture } from "../../fixtures/ollama/ollama-mock.js";

// The builder used by other tests must produce the documented stream exactly.
describe("Ollama /api/chat fixtures", () => {
  it("the builder reproduces the documented text stream byte for byte", () => {
    const built = chatStream(["The", " sky"], {
      evalCount: 282,
      times: ["2025-07-07T20:22:19.101Z", "2025-07-07T20:22:19.123Z", "2025-07-07T20:22:19.184Z"],
    });
    expect(built).toBe(readFixture("chat-stream.ndjson"));
  });

  it("the builder reproduces the documented tool-call stream byte for byte", () => {
    const built = chatStream([], {
      toolCalls: [{ id: "call_k3x9a1b2", name: "get_weather", arguments: { city: "Tokyo" } }],
      promptEvalCount: 169,
      evalCount: 15,
      times: ["2025-07-07T20:22:19.184Z", "2025-07-07T20:22:19.193Z"],
      durations: { total: 182242375, load: 41295167, promptEval: 24573166, eval: 115959084 },
    });
    expect(built).toBe(readFixture("chat-tool-call.ndjson"));
  });

  it("every fixture line is one JSON object ending in a newline", () => {
    for (const name of [
      "chat-stream.ndjson",
      "chat-tool-call.ndjson",
      "chat-parallel-tool-calls.ndjson",
      "chat-error-midstream.ndjson",
      "chat-length.ndjson",
    ]) {
      const text = readFixture(name);
      expect(text.endsWith("\n")).toBe(true);
      for (const line of text.trimEnd().split("\n")) expect(typeof JSON.parse(line)).toBe("object");
    }
  });
});
