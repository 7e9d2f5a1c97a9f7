import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AbortError,
  BackendTimeoutError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../../src/core/errors.js";
import { OllamaChatProvider } from "../../../src/providers/chat/ollama.js";
import { type BackendInfo, backendRequest } from "../../../src/providers/http/backend-request.js";
import { providerFetch } from "../../../src/providers/http/provider-fetch.js";
import { type StallingBackend, startStallingBackend } from "../../helpers/stalling-backend.js";

let base = "";
const sockets = new Set<string>();
const server = http.createServer(async (req, res) => {
  sockets.add(`${req.socket.remotePort}`);
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString();
  if (req.url === "/echo") {
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify({
        method: req.method,
        body,
        length: req.headers["content-length"] ?? null,
        te: req.headers["transfer-encoding"] ?? null,
      }),
    );
  } else if (req.url === "/forever") {
    res.setHeader("content-type", "application/x-ndjson");
    const timer = setInterval(() => res.write('{"n":2}\n'), 10);
    res.on("close", () => clearInterval(timer));
  } else if (req.url === "/late-end/api/chat") {
    // Like Ollama (Go net/http): the final "done" line is flushed, and the chunked body's end
    // follows in a later write, when the handler returns.
    res.setHeader("content-type", "application/x-ndjson");
    res.write(
      `${JSON.stringify({ model: "herd-code", message: { role: "assistant", content: "hi" }, done: false })}\n`,
    );
    res.write(
      `${JSON.stringify({ model: "herd-code", message: { role: "assistant", content: "" }, done: true, done_reason: "stop" })}\n`,
    );
    setTimeout(() => res.end(), 20);
  } else if (req.url === "/big") {
    res.setHeader("content-type", "application/octet-stream");
    res.end(Buffer.alloc(4 * 1024 * 1024, 120));
  } else {
    res.statusCode = 404;
    res.end('{"error":"nothing here"}');
  }
});

let stalling: StallingBackend;
const backend = (timeouts?: BackendInfo["timeouts"], url = base): BackendInfo => ({
  service: "Ollama",
  baseUrl: url,
  unreachableHint: "Start it.",
  timeouts,
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stalling = await startStallingBackend();
});
afterAll(async () => {
  await stalling.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Runs `call`, returning what it threw and how long it took (ms). */
async function timed(call: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = performance.now();
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - start };
}

const chat = (b: BackendInfo, signal?: AbortSignal) =>
  backendRequest(b, "api/chat", { method: "POST", body: "{}", signal });

describe("backendRequest", () => {
  it("sends string bodies with a content length and reuses the connection", async () => {
    sockets.clear();
    for (let i = 0; i < 5; i++) {
      const res = await backendRequest(backend(), "echo", {
        method: "POST",
        body: `{"i":${i}}`,
        headers: { "Content-Type": "application/json" },
      });
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(await res.json()).toEqual({
        method: "POST",
        body: `{"i":${i}}`,
        length: String(`{"i":${i}}`.length),
        te: null,
      });
    }
    expect(sockets.size).toBe(1);
  });

  it("streams a Node stream body chunked", async () => {
    const res = await backendRequest(backend(), "echo", {
      method: "POST",
      body: Readable.from([Buffer.from("hello "), Buffer.from("world")]),
    });
    expect(await res.json()).toMatchObject({ body: "hello world", te: "chunked" });
  });

  it("maps a 404 to ProviderResponseError with the backend's message", async () => {
    const error = await backendRequest(backend(), "nope").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as ProviderResponseError).providerStatus).toBe(404);
    expect((error as Error).message).toBe(`Ollama at ${base} answered 404 for /nope: nothing here`);
  });

  it("maps a refused connection and an abort to Herd errors", async () => {
    const refused = await chat(backend(undefined, "http://127.0.0.1:9")).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderUnavailableError);
    expect((refused as Error).message).toBe(
      "Cannot reach Ollama at http://127.0.0.1:9 (ECONNREFUSED). Start it.",
    );
    expect(await chat(backend(), AbortSignal.abort()).catch((e: unknown) => e)).toBeInstanceOf(AbortError);
    // an abort while waiting for the answer cuts the stalled request
    stalling.mode = "no-headers";
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const { error, ms } = await timed(() => chat(backend(undefined, stalling.url), controller.signal));
    expect(error).toBeInstanceOf(AbortError);
    expect(ms).toBeLessThan(2000);
  });

  it("times out a backend that accepts the connection and sends no headers", async () => {
    stalling.mode = "no-headers";
    const { error, ms } = await timed(() => chat(backend({ firstByteMs: 300 }, stalling.url)));
    expect(error).toBeInstanceOf(BackendTimeoutError);
    expect((error as BackendTimeoutError).phase).toBe("firstByteMs");
    expect((error as BackendTimeoutError).status).toBe(504);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^Ollama at ${stalling.url.replace(/\./g, "\\.")} sent no response within 0\\.3 s \\(timeouts\\.firstByteMs\\)`,
      ),
    );
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(3000);
  });

  it("times out a body that never starts, and one that stalls mid-stream", async () => {
    for (const mode of ["no-body", "mid-stream"] as const) {
      stalling.mode = mode;
      const res = await chat(backend({ idleMs: 300 }, stalling.url));
      const seen: string[] = [];
      const { error, ms } = await timed(async () => {
        for await (const chunk of res.body) seen.push(String(chunk));
      });
      expect(error).toBeInstanceOf(BackendTimeoutError);
      expect((error as BackendTimeoutError).phase).toBe("idleMs");
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(3000);
      if (mode === "no-body") expect(seen).toEqual([]);
      else expect(seen.join("")).toContain('"Hello"');
    }
  });

  it("bounds the whole call even when the backend keeps talking", async () => {
    const res = await backendRequest(backend({ totalMs: 300, idleMs: 1000 }), "forever");
    const { error } = await timed(async () => {
      for await (const _ of res.body) {
        // reading
      }
    });
    expect(error).toBeInstanceOf(BackendTimeoutError);
    expect((error as BackendTimeoutError).phase).toBe("totalMs");
  });

  it("does not count a slow reader as a silent backend", async () => {
    const res = await backendRequest(backend({ idleMs: 100 }), "big");
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size < 200_000) await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(size).toBe(4 * 1024 * 1024);
  });

  it("gives health checks their own connections: stuck checks wait for a socket, chats do not", async () => {
    const health = () =>
      backendRequest(
        backend({ firstByteMs: 400, connectMs: 200 }, stalling.url),
        "api/chat?mode=no-headers",
        {
          method: "POST",
          body: "{}",
          pool: "health",
        },
      ).catch((e: unknown) => e);
    const checks = [health(), health(), health()];
    stalling.mode = "ok";
    const start = performance.now();
    const reply = await chat(backend(undefined, stalling.url));
    expect(await reply.text()).toContain('"done":true');
    expect(performance.now() - start).toBeLessThan(150);
    const errors = await Promise.all(checks);
    // two checks hold the health pool's two sockets; the third never got one
    expect(errors.map((e) => (e as BackendTimeoutError).phase).sort()).toEqual([
      "connectMs",
      "firstByteMs",
      "firstByteMs",
    ]);
  });
});

describe("OllamaChatProvider over backendRequest", () => {
  /** Runs `times` generations one after another, each to its finish chunk. */
  async function generate(baseUrl: string, times: number): Promise<void> {
    const provider = new OllamaChatProvider({ baseUrl });
    for (let i = 0; i < times; i++) {
      const chunks = [];
      for await (const chunk of provider.stream({
        target: { model: "herd-code", adapters: [], base: false },
        messages: [{ role: "user", content: "hi" }],
        params: {},
      }))
        chunks.push(chunk);
      expect(chunks.at(-1)).toMatchObject({ type: "finish", finishReason: "stop" });
    }
  }

  it("reuses one keep-alive connection for consecutive generations", async () => {
    stalling.mode = "ok";
    const before = stalling.accepted;
    await generate(stalling.url, 5);
    expect(stalling.accepted - before).toBeLessThanOrEqual(1);
  });

  it("keeps the connection when the reply's end arrives after the final line", async () => {
    sockets.clear();
    await generate(`${base}/late-end`, 3);
    expect(sockets.size).toBe(1);
  });
});

describe("providerFetch (fetch-style wrapper)", () => {
  it("returns a standard Response whose body streams", async () => {
    const res = await providerFetch(backend(), "echo", { method: "POST", body: "hi" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toMatchObject({ body: "hi", length: "2" });
  });

  it("applies the backend's timeouts", async () => {
    stalling.mode = "no-headers";
    const error = await providerFetch(backend({ firstByteMs: 200 }, stalling.url), "api/chat", {
      method: "POST",
      body: "{}",
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendTimeoutError);
  });
});
