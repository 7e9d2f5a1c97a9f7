import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHerd, type Herd } from "../../../src/herd.js";
import { MetricsPlugin } from "../../../src/plugins/metrics/index.js";
import type { OllamaChatBody } from "../../../src/providers/chat/ollama-messages.js";
import { createApp } from "../../../src/server/app.js";
import { chatStream, ndjsonResponse, OLLAMA_URL, ollamaChatMock } from "../../fixtures/ollama/ollama-mock.js";
import { listen } from "../../helpers/listen.js";

/**
 * `usage` on the OpenAI facade is the backend's count or nothing: exact numbers when Ollama reports
 * them; when it does not (Ollama before v0.2 left `prompt_eval_count` out for a cached prompt), no
 * `usage` in the JSON answer, `usage: null` in the include_usage chunk, a warning naming the
 * provider, and the metrics count the answer as one without usage. Real Herd, Ollama mocked by msw.
 */

// biome-ignore lint/suspicious/noExplicitAny: the assertions read arbitrary JSON bodies
type Json = any;

/** Which requests Ollama answers without `prompt_eval_count` (by their seed). */
let uncounted: (body: OllamaChatBody) => boolean = () => false;
const mock = ollamaChatMock(
  (body) =>
    ndjsonResponse(
      chatStream(["Answer ", `from ${body.model}`], {
        promptEvalCount: uncounted(body) ? null : 26,
        evalCount: 2,
      }),
    ),
  OLLAMA_URL,
  ["herd-code", "herd-creative"],
);
const msw = setupServer(...mock.handlers);

const experts = {
  baseModel: "llama3.2",
  experts: [
    { name: "code", adapter: "code.gguf", examples: ["Write a Python function that reverses a list"] },
    { name: "creative", adapter: "creative.gguf", examples: ["Write a poem about the autumn sea"] },
  ],
};

let herd: Herd;
let metrics: MetricsPlugin;
let server: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  msw.listen({ onUnhandledRequest: "bypass" });
  herd = await createHerd({
    experts,
    provider: { name: "ollama", url: OLLAMA_URL },
    plugins: [{ name: "metrics", options: { processMetrics: false } }],
  });
  metrics = herd.plugins.find((p): p is MetricsPlugin => p instanceof MetricsPlugin)!;
  server = await listen(createApp(herd, { logger: { error: () => {} } }));
});
afterEach(() => {
  uncounted = () => false;
});
afterAll(async () => {
  await server?.close();
  await herd?.close();
  msw.close();
});

const post = (extra: Record<string, unknown> = {}) =>
  fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "herd:code",
      messages: [{ role: "user", content: "Write a Python function" }],
      ...extra,
    }),
  });

async function events(res: Response): Promise<Json[]> {
  const text = await res.text();
  expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .map((e) => JSON.parse(e.slice(6)));
}

const NO_USAGE =
  /Chat provider "ollama" reported no token usage for this answer: usage is left out, not guessed/;
const streamed = { stream: true, stream_options: { include_usage: true } };

describe("usage the backend reported", () => {
  it("reaches a JSON answer exactly, with no warning", async () => {
    const res = await post();
    const body: Json = await res.json();
    expect(body.usage).toEqual({ prompt_tokens: 26, completion_tokens: 2, total_tokens: 28 });
    expect(res.headers.get("x-herd-warning")).toBeNull();
  });

  it("reaches the include_usage chunk exactly", async () => {
    const chunks = await events(await post(streamed));
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 26, completion_tokens: 2, total_tokens: 28 },
    });
    expect(chunks.at(-1)).not.toHaveProperty("herd");
  });

  it("with n: 2 is the sum of both choices", async () => {
    const body: Json = await (await post({ n: 2, seed: 7 })).json();
    expect(body.usage).toEqual({ prompt_tokens: 52, completion_tokens: 4, total_tokens: 56 });
  });
});

describe("usage the backend did not report", () => {
  it("is left out of a JSON answer, and the warning names the provider (header and herd.warnings)", async () => {
    uncounted = () => true;
    const res = await post();
    const body: Json = await res.json();
    expect(res.status).toBe(200);
    expect(body.choices[0].message.content).toBe("Answer from herd-code");
    expect(body).not.toHaveProperty("usage");
    expect(res.headers.get("x-herd-warning")).toMatch(NO_USAGE);
    expect(body.herd.warnings).toEqual([expect.stringMatching(NO_USAGE)]);
  });

  it("is null in the include_usage chunk, which carries the warning in herd.warnings", async () => {
    uncounted = () => true;
    const chunks = await events(await post(streamed));
    const last = chunks.at(-1);
    expect(last).toMatchObject({ object: "chat.completion.chunk", choices: [], usage: null });
    expect(last.herd.warnings).toEqual([expect.stringMatching(NO_USAGE)]);
    expect(chunks.map((c) => c.usage)).not.toContainEqual(expect.objectContaining({ prompt_tokens: 0 }));
  });

  it("with n: 2, one choice without counts leaves the sum out instead of counting that choice as 0", async () => {
    uncounted = (body) => body.options?.seed === 8;
    const res = await post({ n: 2, seed: 7 });
    const body: Json = await res.json();
    expect(body.choices).toHaveLength(2);
    expect(body).not.toHaveProperty("usage");
    expect(res.headers.get("x-herd-warning")).toMatch(NO_USAGE);
    const chunks = await events(await post({ n: 2, seed: 7, ...streamed }));
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: null });
    expect(chunks.at(-1).herd.warnings).toEqual([expect.stringMatching(NO_USAGE)]);
  });

  it("is not in the token histogram, and herd_token_usage_missing_total counts the answer", async () => {
    const count = async (name: string, extra = "") => {
      const text = await metrics.metrics();
      const line = text
        .split("\n")
        .find((l) => l.startsWith(`${name}{`) && l.includes('herd_expert="code"') && l.includes(extra));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
    };
    const tokens = () => count("gen_ai_client_token_usage_count", 'gen_ai_token_type="input"');
    const missing = () => count("herd_token_usage_missing_total");
    const [tokensBefore, missingBefore] = [await tokens(), await missing()];
    uncounted = () => true;
    await (await post()).json();
    expect(await tokens()).toBe(tokensBefore);
    expect(await missing()).toBe(missingBefore + 1);
    uncounted = () => false;
    await (await post()).json();
    expect(await tokens()).toBe(tokensBefore + 1);
    expect(await missing()).toBe(missingBefore + 1);
  });
});
