import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blendModelName, snapToGrid } from "../../src/core/blend-resolver.js";
import { LoraxStandIn } from "../fixtures/engines/lorax-stand-in.js";
import { serveStandIn } from "../fixtures/engines/serve-stand-in.js";
import { LLAMA3_TEMPLATE } from "../fixtures/engines/templates.js";
import {
  CHATTY_PROMPT,
  exactUsageCases,
  MIXED_PROMPT,
  type ServedEngineHerd,
  searchTool,
  serveHerd,
  weatherTool,
  weightsOf,
} from "./engine-herd.js";

/** End to end: the official openai client -> `herd serve`'s app -> the lorax provider -> a loopback LoRAX stand-in. */

const DIR = "/data/adapters";
const NAMES = [
  "herd-code",
  "herd-math",
  "herd-creative",
  "herd-blend-code-math-75-25",
  "herd-blend-code-math-50-50",
  "herd-blend-code-math-25-75",
];
let engine: LoraxStandIn;
let served: { url: string; close: () => Promise<void> };
let prebuilt: ServedEngineHerd;
let merging: ServedEngineHerd;

beforeAll(async () => {
  engine = new LoraxStandIn({ adapters: NAMES.map((n) => `${DIR}/${n}`) });
  served = await serveStandIn(engine);
  prebuilt = await serveHerd({ name: "lorax", url: served.url, adapterDir: DIR });
  merging = await serveHerd({
    name: "lorax",
    url: served.url,
    adapterDir: DIR,
    merge: { strategy: "ties", density: 0.5 },
    chatTemplate: LLAMA3_TEMPLATE,
  });
});
afterAll(async () => {
  await prebuilt?.close();
  await merging?.close();
  await served?.close();
});

const mixed = (h: ServedEngineHerd) =>
  h.openai.chat.completions
    .create({ model: "herd", messages: [{ role: "user", content: MIXED_PROMPT }], top_experts: 2 } as never)
    .withResponse();

describe("herd serve --provider lorax:URL", () => {
  exactUsageCases(() => prebuilt, { prompt_tokens: 1, completion_tokens: 12 });

  it("a natively merged blend's counts are /generate_stream's details, streamed and not", async () => {
    const messages = [{ role: "user" as const, content: MIXED_PROMPT }];
    const blend: object = { top_experts: 2 }; // a Herd field the openai types do not know
    const counted = () => {
      const sent = engine.reportedUsage!;
      expect(engine.requests.at(-1)?.path).toBe("/generate_stream");
      const total = sent.promptTokens + sent.completionTokens;
      return {
        prompt_tokens: sent.promptTokens,
        completion_tokens: sent.completionTokens,
        total_tokens: total,
      };
    };
    const whole = await merging.openai.chat.completions.create({ model: "herd", messages, ...blend });
    expect(whole.usage).toEqual(counted());
    const stream = await merging.openai.chat.completions.create({
      model: "herd",
      messages,
      ...blend,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)?.usage).toEqual(counted());
  });
  it('tool_choice "required" over two tools yields a tool call (a JSON-schema constrained answer); logprobs need the chat template', async () => {
    const forced = await prebuilt.openai.chat.completions.create({
      model: "herd:code",
      messages: [{ role: "user", content: CHATTY_PROMPT }],
      tools: [searchTool, weatherTool],
      tool_choice: "required",
    });
    const call = forced.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("search_docs");
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({
      query: CHATTY_PROMPT,
    });
    expect(forced.choices[0]?.finish_reason).toBe("tool_calls");
    const error = await prebuilt.openai.chat.completions
      .create({ model: "herd:code", messages: [{ role: "user", content: "hi" }], logprobs: true })
      .catch((e: unknown) => e);
    expect((error as { status?: number }).status).toBe(400);
    expect((error as Error).message).toMatch(/log-probabilities/);
    // With the chat template set, LoRAX's native /generate_stream returns them.
    const scored = await merging.openai.chat.completions.create({
      model: "herd:code",
      messages: [{ role: "user", content: "hi" }],
      logprobs: true,
      top_logprobs: 1,
    });
    const content = scored.choices[0]?.logprobs?.content ?? [];
    expect(content.map((t) => t.token).join("")).toBe(scored.choices[0]?.message.content);
    expect(content[0]?.top_logprobs).toHaveLength(1);
  });
  it("streams an expert through /v1/chat/completions with model = the local adapter id", async () => {
    const stream = await prebuilt.openai.chat.completions.create({
      model: "herd:code",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(`Answer from ${DIR}/herd-code: the quick brown fox jumps over the lazy dog.`);
    expect(usage).toMatchObject({ prompt_tokens: 1, completion_tokens: 12 });
    expect(engine.requests.at(-1)?.body).toMatchObject({
      model: `${DIR}/herd-code`,
      adapter_source: "local",
    });
  });

  it("tool calls come back to a streaming client", async () => {
    const final = await prebuilt.openai.chat.completions
      .stream({ model: "herd:code", messages: [{ role: "user", content: "find it" }], tools: [searchTool] })
      .finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({ query: "find it" });
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("a routed two-expert blend reaches LoRAX as that merged adapter", async () => {
    const { response } = await mixed(prebuilt);
    const weights = weightsOf(response.headers);
    const ranked = Object.entries(weights).map(([name, weight]) => ({
      name,
      weight,
      distance: 0,
      similarity: 0,
    }));
    expect(engine.requests.at(-1)?.body.model).toBe(`${DIR}/${blendModelName(snapToGrid(ranked) as never)}`);
  });

  it("with native merging configured, as merged_adapters carrying the routing weights", async () => {
    const { data, response } = await mixed(merging);
    const weights = weightsOf(response.headers);
    const sent = engine.requests.at(-1)!;
    expect(sent.path).toBe("/generate_stream");
    const merged = (sent.body.parameters as { merged_adapters: { ids: string[]; weights: number[] } })
      .merged_adapters;
    expect(merged).toMatchObject({ merge_strategy: "ties", density: 0.5 });
    const byId = Object.fromEntries(merged.ids.map((id, i) => [id, merged.weights[i]!]));
    expect(byId[`${DIR}/herd-code`]).toBeCloseTo(weights.code!, 3);
    expect(byId[`${DIR}/herd-math`]).toBeCloseTo(weights.math!, 3);
    expect(String(sent.body.inputs)).toContain(
      `<|start_header_id|>user<|end_header_id|>\n\n${MIXED_PROMPT}<|eot_id|>`,
    );
    expect((data as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toContain(
      "merge ties",
    );
  });

  it("an adapter LoRAX cannot load answers 503 naming herd build --engine lorax", async () => {
    const h = await serveHerd({ name: "lorax", url: served.url, adapterDir: "/elsewhere" });
    try {
      const error = await h.openai.chat.completions
        .create({ model: "herd:code", messages: [{ role: "user", content: "hi" }] })
        .catch((e: unknown) => e);
      expect((error as { status?: number }).status).toBe(503);
      expect((error as Error).message).toMatch(/\/elsewhere\/herd-code.*herd build --engine lorax/);
    } finally {
      await h.close();
    }
  });

  it("429 overloaded keeps its status for the client", async () => {
    engine.overloaded = true;
    try {
      const error = await prebuilt.openai.chat.completions
        .create({ model: "herd:code", messages: [{ role: "user", content: "hi" }] })
        .catch((e: unknown) => e);
      expect((error as { status?: number }).status).toBe(429);
    } finally {
      engine.overloaded = false;
    }
  });
});

describe("herd serve --provider lorax:URL on LoRAX before v0.11 (its /v1 stream carries no usage)", () => {
  let old: LoraxStandIn;
  let oldServed: { url: string; close: () => Promise<void> };
  let h: ServedEngineHerd;
  beforeAll(async () => {
    old = new LoraxStandIn({ adapters: NAMES.map((n) => `${DIR}/${n}`), streamUsage: false });
    oldServed = await serveStandIn(old);
    h = await serveHerd({ name: "lorax", url: oldServed.url, adapterDir: DIR });
  });
  afterAll(async () => {
    await h?.close();
    await oldServed?.close();
  });

  it("a streaming client that asked for usage gets usage null and a warning naming LoRAX, never zeros", async () => {
    const stream = await h.openai.chat.completions.create({
      model: "herd:code",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    const chunks: unknown[] = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      chunks.push(chunk);
    }
    expect(text).toBe(`Answer from ${DIR}/herd-code: the quick brown fox jumps over the lazy dog.`);
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: null,
      herd: { warnings: [expect.stringMatching(/Chat provider "lorax" reported no token usage/)] },
    });
  });

  it("a client that does not stream gets LoRAX's exact counts (its JSON reply has them)", async () => {
    const reply = await h.openai.chat.completions.create({
      model: "herd:code",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(reply.usage).toEqual({ prompt_tokens: 1, completion_tokens: 12, total_tokens: 13 });
  });
});
