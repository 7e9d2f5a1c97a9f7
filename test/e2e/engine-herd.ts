import OpenAI from "openai";
import { expect, it } from "vitest";
import type { HerdConfigInput } from "../../src/core/config.js";
import { createHerd, type Herd } from "../../src/herd.js";
import { createApp } from "../../src/server/app.js";
import { listen } from "../helpers/listen.js";

/** Three experts whose examples make a mixed code + math prompt route to a two-expert blend. */
export const engineExperts = {
  baseModel: "llama3.2",
  experts: [
    {
      name: "code",
      description: "Programming",
      categories: ["coding"],
      adapter: "adapters/code.gguf",
      model: "herd-code",
      examples: ["Write a Python function that reverses a list", "Fix this JavaScript bug in my loop"],
    },
    {
      name: "math",
      description: "Arithmetic and proofs",
      categories: ["math"],
      adapter: "adapters/math.gguf",
      model: "herd-math",
      examples: ["Prove that the sum of two even numbers is even", "Solve the equation 3x + 5 = 20"],
    },
    {
      name: "creative",
      description: "Stories and poems",
      categories: ["writing"],
      adapter: "adapters/creative.gguf",
      model: "herd-creative",
      examples: ["Write a haiku about autumn leaves", "Tell a short story about a dragon"],
    },
  ],
};

/** A prompt between the code and math experts. */
export const MIXED_PROMPT = "Write a Python function to solve the equation and prove the sum is even";

/** A running `herd serve` app on port 0 over an engine provider, and an official openai client for it. */
export interface ServedEngineHerd {
  herd: Herd;
  url: string;
  openai: OpenAI;
  close(): Promise<void>;
}

/** Builds the real Herd (hashing embedder, memory index, the given provider) and serves it. */
export async function serveHerd(
  provider: HerdConfigInput["provider"],
  expertsDir = "/srv/herd/experts",
  timeouts?: HerdConfigInput["timeouts"],
): Promise<ServedEngineHerd> {
  const herd = await createHerd({
    expertsDir,
    experts: engineExperts,
    provider,
    embedder: { name: "hashing" },
    index: { name: "memory" },
    timeouts,
  });
  // No cached /health answer: the tests flip the engine between loading and ready.
  const server = await listen(createApp(herd, { logger: { error: () => {} }, health: { ttlMs: 0 } }));
  const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  return {
    herd,
    url: server.url,
    openai,
    close: async () => {
      await server.close();
      await herd.close();
    },
  };
}

/** The routing weights of a reply, from its `x-herd-experts` header (`code=0.612,math=0.388`). */
export function weightsOf(headers: Headers): Record<string, number> {
  const value = headers.get("x-herd-experts") ?? "";
  return Object.fromEntries(
    value
      .split(",")
      .filter((p) => p.includes("="))
      .map((p) => {
        const [name, weight] = p.split("=");
        return [name!, Number(weight)];
      }),
  );
}

/** A tool the e2e tests offer. */
export const searchTool = {
  type: "function" as const,
  function: {
    name: "search_docs",
    description: "Search the documentation",
    parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
  },
};

/** A second tool, so a named tool_choice has something to choose against. */
export const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
  },
};

/** A prompt the stand-in model answers in text unless a tool call is forced. */
export const CHATTY_PROMPT = "Just say hello";

/**
 * The cases every engine that enforces `tool_choice` and returns logprobs itself passes (vLLM,
 * llama-server): `required` and a named tool yield calls where the model would answer in text, and
 * logprobs come back in JSON and in stream chunks.
 */
export function nativeToolChoiceAndLogprobsCases(herd: () => ServedEngineHerd): void {
  it('tool_choice "required" yields a tool call where the model would have answered in text', async () => {
    const ask = (tool_choice: "auto" | "required") =>
      herd().openai.chat.completions.create({
        model: "herd:code",
        messages: [{ role: "user", content: CHATTY_PROMPT }],
        tools: [searchTool, weatherTool],
        tool_choice,
      });
    const free = await ask("auto");
    expect(free.choices[0]?.message.tool_calls ?? []).toHaveLength(0);
    const forced = await ask("required");
    const call = forced.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({
      query: CHATTY_PROMPT,
    });
    expect(forced.choices[0]?.finish_reason).toBe("tool_calls");
    const named = await herd().openai.chat.completions.create({
      model: "herd:code",
      messages: [{ role: "user", content: CHATTY_PROMPT }],
      tools: [searchTool, weatherTool],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    const namedCall = named.choices[0]?.message.tool_calls?.[0];
    expect(namedCall?.type === "function" && namedCall.function.name).toBe("get_weather");
  });

  it("logprobs come back, in JSON and in stream chunks", async () => {
    const whole = await herd().openai.chat.completions.create({
      model: "herd:code",
      messages: [{ role: "user", content: "hi" }],
      logprobs: true,
      top_logprobs: 2,
    });
    const content = whole.choices[0]?.logprobs?.content ?? [];
    expect(content.map((t) => t.token).join("")).toBe(whole.choices[0]?.message.content);
    expect(content[0]?.logprob).toBeLessThan(0);
    expect(content[0]?.top_logprobs).toHaveLength(2);
    const stream = await herd().openai.chat.completions.create({
      model: "herd:code",
      messages: [{ role: "user", content: "hi" }],
      logprobs: true,
      stream: true,
    });
    let text = "";
    const tokens: string[] = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      for (const t of chunk.choices[0]?.logprobs?.content ?? []) {
        tokens.push(t.token);
        expect(t.top_logprobs).toEqual([]);
      }
    }
    expect(tokens.join("")).toBe(text);
    expect(tokens.length).toBeGreaterThan(1);
  });
}

/**
 * The engine's token counts reach the client exactly, in the include_usage chunk of a stream and in
 * a JSON answer, for the prompt "hi" (the stand-ins count 1 prompt token).
 */
export function exactUsageCases(
  herd: () => ServedEngineHerd,
  expected: { prompt_tokens: number; completion_tokens: number },
): void {
  const model = "herd:code";
  const usage = { ...expected, total_tokens: expected.prompt_tokens + expected.completion_tokens };
  it("passes the engine's token counts on exactly, streamed (include_usage) and not", async () => {
    const messages = [{ role: "user" as const, content: "hi" }];
    const stream = await herd().openai.chat.completions.create({
      model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage });
    expect(chunks.at(-1)).not.toHaveProperty("herd");
    const { data, response } = await herd()
      .openai.chat.completions.create({ model, messages })
      .withResponse();
    expect(data.usage).toEqual(usage);
    expect(response.headers.get("x-herd-warning")).toBeNull();
  });
}
