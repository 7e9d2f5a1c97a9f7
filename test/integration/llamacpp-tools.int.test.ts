import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatChunk, ChatRequest } from "../../src/core/chat.js";
import { InvalidInputError } from "../../src/core/errors.js";
import { createDemoAssets, LlamaCppChatProvider } from "../../src/providers/llamacpp/index.js";

/** Tools on the llama.cpp provider at the provider level, on the generated tiny model. */

let dir: string;
let wide: LlamaCppChatProvider;
let narrow: LlamaCppChatProvider;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-llamacpp-tools-"));
  const assets = await createDemoAssets(dir, ["code"]);
  // The tiny model was trained on 256 tokens; 1024 leaves room for the function documentation.
  wide = new LlamaCppChatProvider({
    modelPath: assets.modelPath,
    adapters: assets.adapters,
    threads: 1,
    contextSize: 1024,
  });
  narrow = new LlamaCppChatProvider({ modelPath: assets.modelPath, adapters: assets.adapters, threads: 1 });
});
afterAll(async () => {
  await wide?.close();
  await narrow?.close();
  await rm(dir, { recursive: true, force: true });
});

const weather = {
  name: "get_weather",
  description: "The current weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

function request(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    target: { model: "base", base: true, adapters: [] },
    messages: [{ role: "user", content: "Weather in Tokyo?" }],
    params: { maxTokens: 8, seed: 1 },
    ...overrides,
  };
}

async function collect(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const chunks: ChatChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const usageOf = (chunks: ChatChunk[]) => {
  const finish = chunks.at(-1);
  return finish?.type === "finish" ? finish.usage : undefined;
};

describe("llama.cpp tools", () => {
  it('tool_choice "auto" documents the functions to the model through its chat wrapper', async () => {
    const plain = await collect(wide.stream(request()));
    const withTools = await collect(wide.stream(request({ tools: [weather], toolChoice: "auto" })));
    expect(withTools.at(-1)).toMatchObject({ type: "finish" });
    // The function's name, description and parameters are in the prompt.
    expect(usageOf(withTools)!.inputTokens).toBeGreaterThan(usageOf(plain)!.inputTokens + 100);
  });

  it('"none" sends no function documentation', async () => {
    const plain = await collect(wide.stream(request()));
    const none = await collect(wide.stream(request({ tools: [weather], toolChoice: "none" })));
    expect(usageOf(none)!.inputTokens).toBe(usageOf(plain)!.inputTokens);
  });

  it("a context too small for the function documentation is a 400 saying so", async () => {
    const error = await collect(narrow.stream(request({ tools: [weather], toolChoice: "auto" }))).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ code: "context_length_exceeded", status: 400 });
    expect((error as Error).message).toMatch(
      /tool descriptions do not fit llama.cpp's context of 256 tokens/,
    );
  });

  it("presence and frequency penalties change what the model writes", async () => {
    const params = { maxTokens: 24, seed: 3, temperature: 0 };
    const text = (chunks: ChatChunk[]) => chunks.map((c) => (c.type === "text" ? c.text : "")).join("");
    const plain = text(await collect(wide.stream(request({ params }))));
    const penalised = text(
      await collect(wide.stream(request({ params: { ...params, presencePenalty: 2, frequencyPenalty: 2 } }))),
    );
    expect(penalised).not.toBe(plain);
  });
});
