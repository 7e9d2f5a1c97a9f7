import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortError, ProviderUnavailableError } from "../../../src/core/errors.js";
import { keepAliveFetch } from "../../../src/providers/http/keep-alive-fetch.js";
import { providerFetch } from "../../../src/providers/http/provider-fetch.js";

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
  } else if (req.url === "/empty") {
    res.statusCode = 204;
    res.end();
  } else if (req.url === "/drip") {
    res.setHeader("content-type", "application/x-ndjson");
    res.write('{"n":1}\n');
    const timer = setInterval(() => res.write('{"n":2}\n'), 20);
    res.on("close", () => clearInterval(timer));
  } else {
    res.statusCode = 404;
    res.end('{"error":"nothing here"}');
  }
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("keepAliveFetch", () => {
  it("sends string bodies with a content length and reuses the connection", async () => {
    sockets.clear();
    for (let i = 0; i < 5; i++) {
      const res = await keepAliveFetch(`${base}/echo`, {
        method: "POST",
        body: `{"i":${i}}`,
        headers: { "content-type": "application/json" },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(await res.json()).toEqual({
        method: "POST",
        body: `{"i":${i}}`,
        length: String(`{"i":${i}}`.length),
        te: null,
      });
    }
    expect(sockets.size).toBe(1);
  });

  it("streams a ReadableStream body", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("hello "));
        controller.enqueue(new TextEncoder().encode("world"));
        controller.close();
      },
    });
    const res = await keepAliveFetch(`${base}/echo`, { method: "POST", body });
    expect(await res.json()).toMatchObject({ body: "hello world", te: "chunked" });
  });

  it("gives a null body for 204 and keeps other statuses", async () => {
    const empty = await keepAliveFetch(`${base}/empty`);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    const missing = await keepAliveFetch(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.ok).toBe(false);
  });

  it("streams the reply as it arrives and an abort stops reading it", async () => {
    const controller = new AbortController();
    const res = await keepAliveFetch(`${base}/drip`, { signal: controller.signal });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('{"n":1}\n');
    controller.abort();
    await expect(async () => {
      for (;;) if ((await reader.read()).done) break;
    }).rejects.toThrow();
  });

  it("maps a refused connection and an abort to Herd errors through providerFetch", async () => {
    const backend = { service: "Ollama", baseUrl: "http://127.0.0.1:9", unreachableHint: "Start it." };
    const refused = await providerFetch(backend, "api/chat", { method: "POST", body: "{}" }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ProviderUnavailableError);
    expect((refused as Error).message).toBe(
      "Cannot reach Ollama at http://127.0.0.1:9 (ECONNREFUSED). Start it.",
    );
    const aborted = await providerFetch({ ...backend, baseUrl: base }, "drip", {
      signal: AbortSignal.abort(),
    }).catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(AbortError);
  });
});
