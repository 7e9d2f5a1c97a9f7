import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OllamaBlendResolver } from "../../../src/core/blend-resolver.js";
import type { ChatChunk, ChatRequest } from "../../../src/core/chat.js";
import { ConfigError, InvalidInputError } from "../../../src/core/errors.js";
import type { ExpertSet } from "../../../src/core/expert.js";
import type { RoutingDecision } from "../../../src/core/routing.js";
import { LoraxChatProvider, type LoraxChatProviderOptions } from "../../../src/providers/chat/lorax/index.js";
import { pieceLogprob } from "../../fixtures/engines/generation.js";
import { LoraxStandIn } from "../../fixtures/engines/lorax-stand-in.js";
import { standInHandlers } from "../../fixtures/engines/serve-stand-in.js";
import { LLAMA3_TEMPLATE } from "../../fixtures/engines/templates.js";

const server = setupServer();
let dir: string;
beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  dir = await mkdtemp(join(tmpdir(), "herd-lorax-"));
});
afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

let hosts = 0;
function setup(options: Omit<LoraxChatProviderOptions, "url">, adapters: string[]) {
  const url = `http://lorax-${++hosts}.test:8080`;
  const standIn = new LoraxStandIn({ adapters });
  server.use(...standInHandlers(url, standIn));
  return { standIn, provider: new LoraxChatProvider({ url, ...options }) };
}
const run = async (provider: LoraxChatProvider, request: ChatRequest) => {
  const chunks: ChatChunk[] = [];
  for await (const c of provider.stream(request)) chunks.push(c);
  return { chunks, text: chunks.map((c) => (c.type === "text" ? c.text : "")).join("") };
};
const blend: ChatRequest = {
  target: {
    model: "llama",
    adapters: [
      { expert: "code", scale: 0.75 },
      { expert: "math", scale: 0.25 },
    ],
    base: false,
  },
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Sum 2 and 2 in Python" },
  ],
  params: { temperature: 0, maxTokens: 64 },
};

describe("LoraxChatProvider", () => {
  it('sends the base as model "" and hub adapters by their id; always sends max_tokens', async () => {
    const { provider, standIn } = setup({}, ["acme/herd-code"]);
    await run(provider, {
      target: { model: "llama3", adapters: [], base: true },
      messages: [{ role: "user", content: "hi" }],
      params: {},
    });
    expect(standIn.requests.at(-1)?.body).toMatchObject({ model: "", max_tokens: 1024 });
    // top_k 0 means off: LoRAX refuses 0 ("must be strictly positive"), and off is its default
    await run(provider, {
      target: { model: "llama3", adapters: [], base: true },
      messages: [{ role: "user", content: "hi" }],
      params: { topK: 0 },
    });
    expect(standIn.requests.at(-1)?.body).not.toHaveProperty("top_k");
    expect(standIn.requests.at(-1)?.body).not.toHaveProperty("adapter_source");
    await run(provider, {
      target: { model: "acme/herd-code", adapters: [], base: false },
      messages: [{ role: "user", content: "hi" }],
      params: {},
    });
    expect(standIn.requests.at(-1)?.body).toMatchObject({ model: "acme/herd-code", adapter_source: "hub" });
  });

  it("asks for one JSON reply when tools are offered (LoRAX streams tool calls as raw text)", async () => {
    const { provider, standIn } = setup({ adapterDir: "/a" }, ["/a/herd-code"]);
    const { chunks } = await run(provider, {
      target: { model: "herd-code", adapters: [], base: false },
      messages: [{ role: "user", content: "find docs" }],
      params: {},
      tools: [{ name: "search", parameters: { type: "object" } }],
    });
    expect(standIn.requests.at(-1)?.body).toMatchObject({ stream: false });
    expect(chunks[0]).toMatchObject({ type: "tool-call", id: "0", name: "search" });
    expect(chunks.at(-1)).toMatchObject({ type: "finish", finishReason: "tool_calls" });
  });

  it("with the blends herd build wrote, an unbuilt blend falls back to the top expert instead of a missing adapter", async () => {
    const { provider } = setup(
      {
        adapterDir: "/a",
        experts: { code: "herd-code", math: "herd-math" },
        blends: ["herd-blend-code-math-75-25"],
      },
      ["/a/herd-code", "/a/herd-math", "/a/herd-blend-code-math-75-25"],
    );
    const resolver = new OllamaBlendResolver({ grid: 0.25 });
    await resolver.prepare(provider);
    const experts = {
      baseModel: "llama",
      experts: [{ name: "code" }, { name: "math" }],
    } as unknown as ExpertSet;
    const decide = (code: number) =>
      ({
        selected: [
          { name: "code", weight: code, similarity: 0.9 },
          { name: "math", weight: 1 - code, similarity: 0.8 },
        ],
      }) as unknown as RoutingDecision;
    expect(resolver.resolve(decide(0.75), experts).model).toBe("herd-blend-code-math-75-25");
    const unbuilt = resolver.resolve(decide(0.5), experts);
    expect(unbuilt.model).toBe("herd-code");
    expect(unbuilt.warnings?.[0]).toContain('"herd-blend-code-math-50-50" is not built');
  });

  it("keeps an earlier tool call and its result in the conversation LoRAX sees (it reads only role, content and name)", async () => {
    const { provider, standIn } = setup({ adapterDir: "/a" }, ["/a/herd-code"]);
    await run(provider, {
      target: { model: "herd-code", adapters: [], base: false },
      messages: [
        { role: "user", content: "find docs" },
        {
          role: "assistant",
          content: "",
          toolCalls: [{ id: "c1", name: "search", arguments: { query: "docs" } }],
        },
        { role: "tool", content: "3 results", toolCallId: "c1" },
        { role: "user", content: "and now?" },
      ],
      params: {},
      tools: [{ name: "search", parameters: { type: "object" } }],
    });
    const sent = (standIn.requests.at(-1)!.body as { messages: unknown[] }).messages;
    expect(sent.slice(1, 3)).toEqual([
      { role: "assistant", content: '{"function":{"_name":"search","query":"docs"}}' },
      { role: "tool", content: "3 results", name: "search" },
    ]);
  });

  it("merges natively: /generate_stream with merged_adapters and the prompt rendered from the chat template", async () => {
    const { provider, standIn } = setup(
      {
        adapterDir: "/a",
        merge: { strategy: "dare_ties", density: 0.3, majoritySignMethod: "frequency" },
        chatTemplate: LLAMA3_TEMPLATE,
      },
      ["/a/herd-code", "/a/herd-math"],
    );
    const { text } = await run(provider, blend);
    const sent = standIn.requests.at(-1)!;
    expect(sent.path).toBe("/generate_stream");
    expect(sent.body.inputs).toBe(
      "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nSum 2 and 2 in Python<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    expect(sent.body.parameters).toEqual({
      merged_adapters: {
        ids: ["/a/herd-code", "/a/herd-math"],
        weights: [0.75, 0.25],
        merge_strategy: "dare_ties",
        density: 0.3,
        majority_sign_method: "frequency",
      },
      adapter_source: "local",
      max_new_tokens: 64,
      details: true,
    });
    expect(text).toContain("merge dare_ties /a/herd-code@0.75,/a/herd-math@0.25");
    expect(text).not.toContain("</s>");
  });

  it("cuts the stop sequence LoRAX includes in /generate_stream text", async () => {
    const { provider } = setup({ adapterDir: "/a", merge: {}, chatTemplate: LLAMA3_TEMPLATE }, [
      "/a/herd-code",
      "/a/herd-math",
    ]);
    const { text, chunks } = await run(provider, { ...blend, params: { stop: [" brown"] } });
    expect(text.endsWith(" quick")).toBe(true);
    expect(text).not.toContain("brown");
    expect(chunks.at(-1)).toMatchObject({ finishReason: "stop", usage: { inputTokens: expect.any(Number) } });
  });

  it("reads the template and special tokens from the base model's tokenizer_config.json", async () => {
    const file = join(dir, "tokenizer_config.json");
    await writeFile(
      file,
      JSON.stringify({
        bos_token: "<|begin_of_text|>",
        eos_token: { content: "<|eot_id|>" },
        chat_template: LLAMA3_TEMPLATE,
      }),
    );
    const { provider, standIn } = setup({ adapterDir: "/a", merge: {}, tokenizerConfig: file }, [
      "/a/herd-code",
      "/a/herd-math",
    ]);
    await provider.prepare();
    await run(provider, blend);
    expect(String(standIn.requests.at(-1)?.body.inputs)).toMatch(
      /^<\|begin_of_text\|><\|start_header_id\|>system/,
    );
  });

  it("refuses tools on a native merge, and a merge without a chat template", async () => {
    const { provider } = setup({ adapterDir: "/a", merge: {}, chatTemplate: LLAMA3_TEMPLATE }, []);
    await expect(run(provider, { ...blend, tools: [{ name: "t", parameters: {} }] })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect(() => new LoraxChatProvider({ merge: {} })).toThrow(ConfigError);
    const missing = new LoraxChatProvider({ merge: {}, tokenizerConfig: join(dir, "nope.json") });
    await expect(missing.prepare()).rejects.toThrow(/Cannot read the tokenizer config/);
  });

  it("an adapter LoRAX cannot load is ModelNotFoundError naming where it looked", async () => {
    const { provider } = setup({ adapterDir: "/a" }, []);
    await expect(
      run(provider, {
        target: { model: "herd-code", adapters: [], base: false },
        messages: [{ role: "user", content: "hi" }],
        params: {},
      }),
    ).rejects.toThrow(/does not serve "\/a\/herd-code".*No local weights found.*herd build --engine lorax/);
  });

  describe("logprobs (through /generate_stream, on a prompt rendered from the chat template)", () => {
    const one: ChatRequest = {
      target: { model: "herd-code", adapters: [{ expert: "code", scale: 1 }], base: false },
      messages: [{ role: "user", content: "hi" }],
      params: { logprobs: true, topLogprobs: 2, maxTokens: 6 },
    };

    it("runs one adapter natively with return_k_alternatives and maps each token's logprob", async () => {
      const { provider, standIn } = setup({ adapterDir: "/a", chatTemplate: LLAMA3_TEMPLATE }, [
        "/a/herd-code",
      ]);
      expect(provider.capabilities.logprobs).toBe(true);
      const { chunks, text } = await run(provider, one);
      const sent = standIn.requests.at(-1)!;
      expect(sent.path).toBe("/generate_stream");
      expect(sent.body.parameters).toMatchObject({
        adapter_id: "/a/herd-code",
        adapter_source: "local",
        return_k_alternatives: 2,
        max_new_tokens: 6,
      });
      expect(sent.body.parameters).not.toHaveProperty("merged_adapters");
      const logprobs = chunks.flatMap((c) => (c.type === "text" ? (c.logprobs ?? []) : []));
      expect(logprobs.map((l) => l.token).join("")).toBe(text);
      const first = pieceLogprob("Answer", 0, 2);
      expect(logprobs[0]).toEqual({
        token: "Answer",
        logprob: first.logprob,
        topLogprobs: first.top_logprobs.map((t) => ({ token: t.token, logprob: t.logprob })),
      });
      expect(chunks.at(-1)).toMatchObject({ type: "finish", finishReason: "length" });
    });

    it("keeps tokens and text in step when a stop sequence is cut; no alternatives unless asked", async () => {
      const { provider, standIn } = setup({ adapterDir: "/a", chatTemplate: LLAMA3_TEMPLATE }, [
        "/a/herd-code",
      ]);
      const { chunks, text } = await run(provider, {
        ...one,
        params: { logprobs: true, stop: [" brown"], maxTokens: 64 },
      });
      expect(standIn.requests.at(-1)?.body.parameters).not.toHaveProperty("return_k_alternatives");
      expect(text.endsWith(" quick")).toBe(true);
      const logprobs = chunks.flatMap((c) => (c.type === "text" ? (c.logprobs ?? []) : []));
      expect(logprobs.map((l) => l.token).join("")).toBe(text);
      expect(logprobs.every((l) => l.topLogprobs === undefined && l.logprob < 0)).toBe(true);
    });

    it("runs the base without an adapter, and merges a blend natively with logprobs", async () => {
      const { provider, standIn } = setup({ adapterDir: "/a", merge: {}, chatTemplate: LLAMA3_TEMPLATE }, [
        "/a/herd-code",
        "/a/herd-math",
      ]);
      await run(provider, { ...one, target: { model: "llama", adapters: [], base: true } });
      expect(standIn.requests.at(-1)?.body.parameters).not.toHaveProperty("adapter_id");
      expect(standIn.requests.at(-1)?.body.parameters).not.toHaveProperty("adapter_source");
      const { chunks } = await run(provider, { ...blend, params: { logprobs: true } });
      expect(standIn.requests.at(-1)?.body.parameters).toHaveProperty("merged_adapters");
      expect(chunks.some((c) => c.type === "text" && (c.logprobs?.length ?? 0) > 0)).toBe(true);
    });

    it("refuses logprobs with tools, and without a chat template (no capability)", async () => {
      const { provider } = setup({ adapterDir: "/a", chatTemplate: LLAMA3_TEMPLATE }, ["/a/herd-code"]);
      const error = await run(provider, { ...one, tools: [{ name: "t", parameters: {} }] }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as Error).message).toMatch(
        /log-probabilities only through \/generate_stream, which cannot call tools/,
      );
      const plain = setup({ adapterDir: "/a" }, ["/a/herd-code"]).provider;
      expect(plain.capabilities.logprobs).toBe(false);
      await expect(run(plain, one)).rejects.toThrow(/set provider.chatTemplate or provider.tokenizerConfig/);
    });
  });
});
