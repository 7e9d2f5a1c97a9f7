import { spawn } from "node:child_process";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_BASE_MODEL, demoConfig } from "../../src/cli/commands/serve-demo.js";
import type { HerdRoutingInfo } from "../../src/core/routing-info.js";
import { createHerd, type Herd } from "../../src/herd.js";
import { createApp } from "../../src/server/app.js";
import { listen } from "../helpers/listen.js";

/**
 * `herd serve --demo` end to end: a generated tiny llama model and one real LoRA adapter per expert
 * on llama.cpp, nothing mocked; the official openai client talks to it.
 */
describe("herd serve --demo (real llama.cpp)", () => {
  let herd: Herd;
  let server: Awaited<ReturnType<typeof listen>>;
  let client: OpenAI;

  beforeAll(async () => {
    herd = await createHerd(await demoConfig({}));
    server = await listen(createApp(herd));
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "demo", maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await herd?.close();
  });

  const ask = (model: string, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
    client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Write a Python function that reverses a list." }],
      max_tokens: 12,
      temperature: 0,
      ...extra,
    });
  const herdOf = (completion: unknown) => (completion as { herd: HerdRoutingInfo }).herd;

  it("routes, applies the expert's adapter, and generates", async () => {
    const completion = await ask("herd");
    const info = herdOf(completion);
    expect(info.reason).toBe("routed");
    expect(info.experts.map((e) => e.name)).toEqual(["code"]);
    expect(info.adapters).toEqual([{ expert: "code", scale: 1 }]);
    expect(completion.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(completion.choices[0]!.finish_reason).toBe("length");
    expect(completion.usage!.completion_tokens).toBe(12);
  });

  it("answers differently with different experts' adapters, and blends with top_experts", async () => {
    const [code, qa, base] = await Promise.all([ask("herd:code"), ask("herd:qa"), ask(DEMO_BASE_MODEL)]);
    expect(herdOf(qa).adapters).toEqual([{ expert: "qa", scale: 1 }]);
    expect(herdOf(base).adapters).toEqual([]);
    const texts = new Set([code, qa, base].map((c) => c.choices[0]!.message.content));
    expect(texts.size).toBe(3);

    const blend = herdOf(await ask("herd", { top_experts: 2 } as object));
    expect(blend.adapters).toHaveLength(2);
    expect(blend.adapters.reduce((sum, a) => sum + a.scale, 0)).toBeCloseTo(1, 5);
  });

  it("streams tokens that add up to the non-streamed answer", async () => {
    const whole = (await ask("herd:creative")).choices[0]!.message.content;
    const stream = await client.chat.completions.create({
      model: "herd:creative",
      messages: [{ role: "user", content: "Write a Python function that reverses a list." }],
      max_tokens: 12,
      temperature: 0,
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe(whole);
  });
});

describe("the herd serve process", () => {
  it("prints where it listens and the demo notice, serves, and drains on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "serve", "--demo", "--port", "0"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const match = /serving an OpenAI-compatible API at (http:\/\/\S+)/.exec(stdout);
        if (match && stdout.includes("Press Ctrl+C")) resolve(match[1]!);
      });
      child.once("exit", (code) => reject(new Error(`herd serve exited early (${code}): ${stderr}`)));
    });
    expect(stdout).toContain("the text is gibberish");
    expect(stdout).toContain("herd serve --provider llamacpp:path/to/base.gguf");
    expect(stdout).toMatch(/routing: 6 experts/);

    const client = new OpenAI({ baseURL: url, apiKey: "demo", maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: "herd",
      messages: [{ role: "user", content: "Tell me a story." }],
      max_tokens: 64,
      stream: true,
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    let finish: string | null | undefined;
    for await (const chunk of stream) finish = chunk.choices[0]?.finish_reason ?? finish;
    expect(finish).toBe("length");
    expect(await exited).toBe(0);
    expect(stderr).toContain("shutting down");
  });
});
