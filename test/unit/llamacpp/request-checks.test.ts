import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/core/errors.js";
import { LlamaCppChatProvider } from "../../../src/providers/llamacpp/chat-provider.js";

describe("LlamaCppChatProvider request checks", () => {
  it.each([0, -1, 2.5])("refuses maxTokens %j before loading anything", async (maxTokens) => {
    // The model file does not exist: the request is refused before the provider tries to load it.
    const provider = new LlamaCppChatProvider({ modelPath: "/nonexistent/model.gguf", adapters: {} });
    const run = async () => {
      for await (const _ of provider.stream({
        target: { model: "base", adapters: [], base: true },
        messages: [{ role: "user", content: "hi" }],
        params: { maxTokens },
      })) {
        // drain
      }
    };
    await expect(run()).rejects.toThrow(InvalidInputError);
    await expect(run()).rejects.toThrow(/maxTokens must be an integer >= 1/);
  });
});
