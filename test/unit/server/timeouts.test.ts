import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHerd, type Herd } from "../../../src/herd.js";
import { createApp } from "../../../src/server/app.js";
import { listen } from "../../helpers/listen.js";
import { copyRepoExperts, type ExpertsCopy } from "../../helpers/repo-experts.js";
import { type StallingBackend, startStallingBackend } from "../../helpers/stalling-backend.js";

/**
 * `herd serve` in front of a real loopback "Ollama" that accepts connections and then stalls:
 * each stuck request gets a 504 timeout error within the configured time, frees its generation
 * slot, and the next request succeeds at once when the backend answers again.
 */
describe("backend timeouts through the facade", () => {
  let backend: StallingBackend;
  let herd: Herd;
  let server: Awaited<ReturnType<typeof listen>>;
  const LIMIT_MS = 600;
  let experts: ExpertsCopy | undefined;

  beforeAll(async () => {
    backend = await startStallingBackend();
    // Routing trains into the experts folder: a private copy keeps the working tree's experts/ untouched.
    experts = await copyRepoExperts();
    herd = await createHerd({
      expertsDir: experts.dir,
      provider: { name: "ollama", url: backend.url },
      embedder: { name: "hashing" },
      index: { name: "memory" },
      concurrency: { generation: 4 },
      timeouts: { firstByteMs: LIMIT_MS, idleMs: LIMIT_MS },
    });
    server = await listen(
      createApp(herd, { logger: { error: () => {} }, health: { ttlMs: 1000, timeoutMs: LIMIT_MS } }),
    );
  });
  afterAll(async () => {
    await server?.close();
    await herd?.close();
    await backend?.close();
    await experts?.remove();
  });

  const chat = (stream = false) =>
    fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "herd",
        stream,
        messages: [{ role: "user", content: "Sort a list in Python" }],
      }),
    });

  it("answers 504 timeout to 6 requests stuck on 4 slots, then serves the next one at once", async () => {
    for (const mode of ["no-headers", "no-body"] as const) {
      backend.mode = mode;
      const start = performance.now();
      const replies = await Promise.all(
        Array.from({ length: 6 }, async () => {
          const res = await chat();
          return {
            status: res.status,
            retry: res.headers.get("x-should-retry"),
            body: (await res.json()) as { error: { message: string } },
            at: performance.now() - start,
          };
        }),
      );
      for (const reply of replies) {
        expect(reply.status).toBe(504);
        expect(reply.retry).toBe("true");
        expect(reply.body.error).toMatchObject({ type: "server_error", code: "timeout" });
        expect(reply.body.error.message).toContain(`Ollama at ${backend.url}`);
      }
      // 4 run at once and time out together; the 2 queued get their slots then and time out next
      const times = replies.map((r) => r.at).sort((a, b) => a - b);
      expect(times[0]).toBeGreaterThanOrEqual(LIMIT_MS - 50);
      expect(times[5]).toBeLessThan(LIMIT_MS * 2 + 1500);
      expect(herd.pipeline.load).toEqual({ running: 0, queued: 0 });

      backend.mode = "ok";
      const okStart = performance.now();
      const ok = await chat();
      expect(ok.status).toBe(200);
      expect(
        ((await ok.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content,
      ).toBe("Hello world");
      expect(performance.now() - okStart).toBeLessThan(LIMIT_MS);
    }
  });

  it("ends a stream that stalls mid-way with an SSE error event naming the timeout", async () => {
    backend.mode = "mid-stream";
    const start = performance.now();
    const res = await chat(true);
    expect(res.status).toBe(200);
    const events = (await res.text()).split("\n\n").filter((e) => e.startsWith("data: "));
    const elapsed = performance.now() - start;
    const last = JSON.parse(events.at(-1)!.slice(6));
    expect(last.error).toMatchObject({ code: "timeout", type: "server_error" });
    expect(events.some((e) => e.includes('"content":"Hello"'))).toBe(true);
    expect(events.at(-1)).not.toBe("data: [DONE]");
    expect(elapsed).toBeGreaterThanOrEqual(LIMIT_MS - 50);
    expect(elapsed).toBeLessThan(LIMIT_MS * 1.25 + 1500);
    expect(herd.pipeline.load).toEqual({ running: 0, queued: 0 });
    backend.mode = "ok";
    expect((await chat()).status).toBe(200);
  });

  it("keeps a flood of /health calls against a stuck backend to one request, and chats unaffected", async () => {
    const HEALTH_MS = 1500;
    const app = await listen(
      createApp(herd, { logger: { error: () => {} }, health: { ttlMs: 1000, timeoutMs: HEALTH_MS } }),
    );
    try {
      backend.stallHealth = true;
      backend.mode = "ok";
      const before = backend.healthRequests;
      let healthDone = false;
      const checks = Promise.all(
        Array.from({ length: 300 }, async () => (await fetch(`${app.url}/health`)).status),
      ).finally(() => {
        healthDone = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const ok = await chat();
      expect(ok.status).toBe(200);
      // the chat was served while all 300 health calls still waited on the one stuck check
      expect(healthDone).toBe(false);
      expect(new Set(await checks)).toEqual(new Set([504]));
      expect(backend.healthRequests - before).toBe(1);
    } finally {
      backend.stallHealth = false;
      await app.close();
    }
  });
});
