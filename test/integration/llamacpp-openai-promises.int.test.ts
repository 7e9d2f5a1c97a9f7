import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { demoConfig } from "../../src/cli/commands/serve-demo.js";
import { createHerd, type Herd } from "../../src/herd.js";
import { createApp } from "../../src/server/app.js";
import { listen } from "../helpers/listen.js";

/**
 * The OpenAI promises on real llama.cpp: the demo's generated tiny model (random weights) with one
 * LoRA per expert, behind `herd serve`'s app, through the official openai client. A random model
 * cannot choose to call a tool or to write JSON: everything asserted here is what Herd enforces.
 */
let herd: Herd;
let server: Awaited<ReturnType<typeof listen>>;
let client: OpenAI;

beforeAll(async () => {
  herd = await createHerd(await demoConfig({}));
  server = await listen(createApp(herd, { logger: { error: () => {} } }));
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "demo", maxRetries: 0 });
});
afterAll(async () => {
  await server?.close();
  await herd?.close();
});

const question = { role: "user", content: "What is the weather in Tokyo?" } as const;
/** A tool whose arguments form a finite language, so a grammar-forced call always completes. */
const unitsTool: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "set_units",
    description: "Choose the units for weather reports",
    parameters: {
      type: "object",
      properties: { units: { type: "string", enum: ["metric", "imperial"] }, verbose: { type: "boolean" } },
      required: ["units", "verbose"],
      additionalProperties: false,
    },
  },
};
const alertTool: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "set_alert",
    parameters: {
      type: "object",
      properties: { level: { type: "string", enum: ["low", "high"] } },
      required: ["level"],
      additionalProperties: false,
    },
  },
};
const weatherTool: OpenAI.ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

describe("tools on llama.cpp", () => {
  it('tool_choice "required" always yields a complete tool call of an allowed tool', async () => {
    for (const [seed, tools] of [
      [1, [unitsTool]],
      [2, [unitsTool]],
      [3, [unitsTool, alertTool]],
      [4, [unitsTool, alertTool]],
    ] as const) {
      const completion = await client.chat.completions.create({
        model: "herd",
        messages: [question],
        tools: [...tools],
        tool_choice: "required",
        seed,
        max_tokens: 200,
      });
      const choice = completion.choices[0]!;
      expect(choice.finish_reason).toBe("tool_calls");
      const call = choice.message.tool_calls![0]!;
      const name = call.type === "function" ? call.function.name : "";
      const args = JSON.parse(call.type === "function" ? call.function.arguments : "");
      if (name === "set_units") {
        expect(["metric", "imperial"]).toContain(args.units);
        expect(typeof args.verbose).toBe("boolean");
      } else {
        expect(name).toBe("set_alert");
        expect(tools).toHaveLength(2);
        expect(["low", "high"]).toContain(args.level);
      }
    }
  });

  it("a named tool is called even when its arguments are cut by max_tokens (finish_reason length, valid JSON)", async () => {
    const completion = await client.chat.completions.create({
      model: "herd",
      messages: [question],
      tools: [weatherTool, unitsTool],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      temperature: 0,
      max_tokens: 48,
    });
    const call = completion.choices[0]!.message.tool_calls![0]!;
    expect(call.type === "function" && call.function.name).toBe("get_weather");
    expect(() => JSON.parse(call.type === "function" ? call.function.arguments : "")).not.toThrow();
  });

  it("streams the forced call as tool-call deltas the openai stream helper assembles", async () => {
    const stream = client.chat.completions.stream({
      model: "herd",
      messages: [question],
      tools: [unitsTool],
      tool_choice: "required",
      seed: 5,
      max_tokens: 200,
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
    const call = final.choices[0]!.message.tool_calls![0]!;
    expect(call.type === "function" && JSON.parse(call.function.arguments).units).toMatch(/metric|imperial/);

    // One tool allowed: its arguments stream as the model writes them, in many deltas after the head.
    const raw = await client.chat.completions.create({
      model: "herd",
      messages: [question],
      tools: [unitsTool],
      tool_choice: { type: "function", function: { name: "set_units" } },
      seed: 5,
      max_tokens: 200,
      stream: true,
    });
    const pieces: string[] = [];
    let head: unknown;
    for await (const chunk of raw) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        if (delta.id) head = delta;
        else if (delta.function?.arguments) pieces.push(delta.function.arguments);
      }
    }
    expect(head).toMatchObject({ index: 0, type: "function", function: { name: "set_units" } });
    expect(pieces.length).toBeGreaterThan(3);
    expect(JSON.parse(pieces.join(""))).toMatchObject({ units: expect.stringMatching(/metric|imperial/) });
  });

  it("accepts the tool-result turn and answers in text", async () => {
    const completion = await client.chat.completions.create({
      model: "herd",
      tools: [weatherTool],
      tool_choice: "none",
      max_tokens: 8,
      messages: [
        question,
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Tokyo"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "11 degrees celsius, clear" },
      ],
    });
    expect(completion.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(completion.choices[0]!.message.tool_calls).toBeUndefined();
    // The tool result is part of the prompt the model saw.
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(40);
  });

  it("a tool result that answers no call is a 400 naming the message", async () => {
    const error = await client.chat.completions
      .create({
        model: "herd",
        messages: [question, { role: "tool", tool_call_id: "call_x", content: "11" }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("messages[1]");
  });
});

describe("n, logprobs and structured output on llama.cpp", () => {
  it("n: 2 returns two choices, seeded seed and seed+1: reproducible and different", async () => {
    const ask = () =>
      client.chat.completions.create({ model: "herd", messages: [question], n: 2, seed: 11, max_tokens: 12 });
    const first = await ask();
    const again = await ask();
    expect(first.choices.map((c) => c.index)).toEqual([0, 1]);
    const texts = first.choices.map((c) => c.message.content);
    expect(texts[0]).not.toBe(texts[1]);
    expect(again.choices.map((c) => c.message.content)).toEqual(texts);
    // Usage adds both generations: choice 0 alone is the n: 1 request with the same seed.
    const single = await client.chat.completions.create({
      model: "herd",
      messages: [question],
      seed: 11,
      max_tokens: 12,
    });
    expect(single.choices[0]!.message.content).toBe(texts[0]);
    expect(first.usage!.prompt_tokens).toBe(2 * single.usage!.prompt_tokens);
    expect(first.usage!.completion_tokens).toBeGreaterThan(single.usage!.completion_tokens);
  });

  it("logprobs and top_logprobs: one entry per generated token, its alternatives most likely first", async () => {
    const ask = () =>
      client.chat.completions.create({
        model: "herd",
        messages: [question],
        logprobs: true,
        top_logprobs: 3,
        seed: 4,
        max_tokens: 10,
      });
    const completion = await ask();
    const choice = completion.choices[0]!;
    const content = choice.logprobs!.content!;
    expect(content.map((t) => t.token).join("")).toBe(choice.message.content);
    // One entry per text token (an end-of-generation token counts in usage but writes no text).
    expect(content.length).toBeGreaterThan(0);
    expect(content.length).toBeGreaterThanOrEqual(completion.usage!.completion_tokens - 1);
    for (const entry of content) {
      expect(entry.logprob).toBeLessThanOrEqual(0);
      expect(entry.top_logprobs).toHaveLength(3);
      const tops = entry.top_logprobs.map((t) => t.logprob);
      expect([...tops].sort((a, b) => b - a)).toEqual(tops);
      // The chosen token is at most as likely as the most likely one, and listed when it is among the top 3.
      expect(entry.logprob).toBeLessThanOrEqual(tops[0]! + 1e-9);
      const listed = entry.top_logprobs.find((t) => t.token === entry.token);
      if (listed) expect(listed.logprob).toBeCloseTo(entry.logprob, 9);
    }
    // Reproducible: the same seed gives the same tokens and log-probabilities.
    expect((await ask()).choices[0]!.logprobs!.content).toEqual(content);

    const streamed = await client.chat.completions.create({
      model: "herd",
      messages: [question],
      logprobs: true,
      seed: 4,
      max_tokens: 10,
      stream: true,
    });
    const pieces: { token: string; logprob: number }[] = [];
    for await (const chunk of streamed) pieces.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    expect(pieces.map((p) => [p.token, p.logprob])).toEqual(content.map((t) => [t.token, t.logprob]));
  });

  it("client.chat.completions.parse with a zod schema succeeds: the grammar makes the model follow it", async () => {
    const Report = z.object({ sky: z.enum(["clear", "cloudy", "rain"]), windy: z.boolean() });
    const completion = await client.chat.completions.parse({
      model: "herd",
      messages: [question],
      response_format: zodResponseFormat(Report, "report"),
      seed: 3,
      max_tokens: 200,
    });
    const parsed = completion.choices[0]!.message.parsed;
    expect(Report.parse(parsed)).toEqual(parsed);
  });
});
