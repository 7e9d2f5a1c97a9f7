import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlamaServerStandIn } from "../fixtures/engines/llama-server-stand-in.js";
import { LoraxStandIn } from "../fixtures/engines/lorax-stand-in.js";
import { serveStandIn } from "../fixtures/engines/serve-stand-in.js";
import { LLAMA3_TEMPLATE } from "../fixtures/engines/templates.js";
import { VllmStandIn } from "../fixtures/engines/vllm-stand-in.js";
import type { EngineStandIn } from "../fixtures/engines/wire.js";
import { MIXED_PROMPT, type ServedEngineHerd, serveHerd } from "./engine-herd.js";

/**
 * `herd serve` over each engine provider, in front of a real loopback engine that accepts a chat
 * request and then stalls (no reply at all, or silence after the first events of its stream): the
 * client gets the 504 `timeout` error within the configured `timeouts`, and the next request
 * succeeds at once on the same Herd.
 */

const LIMIT_MS = 500;
const TIMEOUTS = { firstByteMs: LIMIT_MS, idleMs: LIMIT_MS };
const DIR = "/data/adapters";
const NAMES = ["herd-code", "herd-math", "herd-creative", "herd-blend-code-math-50-50"];

/** A stand-in whose POST replies can be held back entirely (no status line, no headers). */
class Stalling implements EngineStandIn {
  /** While set, POST requests get no answer until it settles. */
  stall?: Promise<unknown>;
  /** The path of the last POST received (the inner stand-in records it only once it answers). */
  lastPost?: string;
  constructor(readonly inner: EngineStandIn & { hold?: Promise<unknown> }) {}
  get requests() {
    return this.inner.requests;
  }
  get cancelled() {
    return this.inner.cancelled;
  }
  async handle(request: Request): Promise<Response> {
    if (request.method === "POST") this.lastPost = new URL(request.url).pathname;
    if (request.method === "POST" && this.stall) await this.stall;
    return this.inner.handle(request);
  }
}

const cases = [
  {
    name: "vllm",
    engine: () => new VllmStandIn({ adapters: NAMES }),
    provider: (url: string) => ({ name: "vllm" as const, url }),
    prompt: "hi",
    model: "herd:code",
    path: "/v1/chat/completions",
  },
  {
    name: "lorax",
    engine: () => new LoraxStandIn({ adapters: NAMES.map((n) => `${DIR}/${n}`) }),
    provider: (url: string) => ({ name: "lorax" as const, url, adapterDir: DIR }),
    prompt: "hi",
    model: "herd:code",
    path: "/v1/chat/completions",
  },
  {
    // a blend merged per request: LoRAX's native /generate_stream, read through EngineClient.events
    name: "lorax (merged, /generate_stream)",
    engine: () => new LoraxStandIn({ adapters: NAMES.map((n) => `${DIR}/${n}`) }),
    provider: (url: string) => ({
      name: "lorax" as const,
      url,
      adapterDir: DIR,
      merge: { strategy: "ties" as const, density: 0.5 },
      chatTemplate: LLAMA3_TEMPLATE,
    }),
    prompt: MIXED_PROMPT,
    model: "herd",
    path: "/generate_stream",
  },
  {
    name: "llama-server",
    engine: () =>
      new LlamaServerStandIn({
        adapters: ["/models/code.gguf", "/models/math.gguf", "/models/creative.gguf"],
      }),
    provider: (url: string) => ({ name: "llama-server" as const, url }),
    prompt: "hi",
    model: "herd:code",
    path: "/v1/chat/completions",
  },
];

describe.each(cases)("a stalled $name engine", ({ engine: makeEngine, provider, prompt, model, path }) => {
  let engine: Stalling;
  let served: { url: string; close: () => Promise<void> };
  let herd: ServedEngineHerd;
  beforeAll(async () => {
    engine = new Stalling(makeEngine());
    served = await serveStandIn(engine);
    herd = await serveHerd(provider(served.url), undefined, TIMEOUTS);
  });
  afterAll(async () => {
    await herd?.close();
    await served?.close();
  });

  const chat = (stream: boolean) =>
    fetch(`${herd.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, stream, top_experts: 2, messages: [{ role: "user", content: prompt }] }),
    });
  /** Holds the engine back until the returned function is called. */
  const held = () => {
    let release = () => {};
    const promise = new Promise<void>((resolve) => {
      release = resolve;
    });
    return { promise, release };
  };

  it("that never answers is a 504 timeout within firstByteMs; the next request succeeds at once", async () => {
    const stall = held();
    engine.stall = stall.promise;
    const start = performance.now();
    const res = await chat(false);
    const elapsed = performance.now() - start;
    engine.stall = undefined;
    stall.release();
    expect(engine.lastPost).toBe(path);
    expect(res.status).toBe(504);
    expect(res.headers.get("x-should-retry")).toBe("true");
    const body = (await res.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error).toMatchObject({ code: "timeout", type: "server_error" });
    expect(body.error.message).toContain(served.url);
    expect(elapsed).toBeGreaterThanOrEqual(LIMIT_MS - 50);
    expect(elapsed).toBeLessThan(LIMIT_MS + 1500);

    const okStart = performance.now();
    const ok = await chat(false);
    expect(ok.status).toBe(200);
    const done = (await ok.json()) as { choices: { message: { content: string } }[] };
    expect(done.choices[0]!.message.content.length).toBeGreaterThan(0);
    expect(performance.now() - okStart).toBeLessThan(LIMIT_MS);
    expect(herd.herd.pipeline.load).toEqual({ running: 0, queued: 0 });
  });

  it("that goes silent mid-stream ends the stream with a timeout error event within idleMs; the next stream completes", async () => {
    const stall = held();
    (engine.inner as { hold?: Promise<unknown> }).hold = stall.promise;
    const start = performance.now();
    const res = await chat(true);
    expect(res.status).toBe(200);
    const events = (await res.text()).split("\n\n").filter((e) => e.startsWith("data: "));
    const elapsed = performance.now() - start;
    (engine.inner as { hold?: Promise<unknown> }).hold = undefined;
    stall.release();
    expect(engine.lastPost).toBe(path);
    const last = JSON.parse(events.at(-1)!.slice(6)) as { error?: { code: string; type: string } };
    expect(last.error).toMatchObject({ code: "timeout", type: "server_error" });
    // idle silence is seen within 1.25 x idleMs (the watch polls four times per period)
    expect(elapsed).toBeGreaterThanOrEqual(LIMIT_MS - 50);
    expect(elapsed).toBeLessThan(LIMIT_MS * 1.25 + 1500);

    const again = await (await chat(true)).text();
    expect(again.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(again).not.toContain('"error"');
    expect(herd.herd.pipeline.load).toEqual({ running: 0, queued: 0 });
  });
});
