import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { type AppOptions, createApp } from "../../../src/server/app.js";
import { createHostCheck, normalizeHost } from "../../../src/server/host-check.js";
import { runRequestChecks, serverRequestChecks } from "../../../src/server/request-check.js";
import { listen } from "../../helpers/listen.js";
import { FakeHerd } from "./fake-herd.js";

let closeServer: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeServer?.();
  closeServer = undefined;
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (fetch cannot set Host), through a real listening server. */
async function start(options: AppOptions = {}) {
  const server = await listen(createApp(new FakeHerd(), { logger: { error: () => {} }, ...options }));
  closeServer = server.close;
  const { port } = new URL(server.url);
  return (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
    new Promise<Reply>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on("error", reject);
      req.end(body);
    });
}

const chat = JSON.stringify({ model: "herd", messages: [{ role: "user", content: "Write a function" }] });
const json = { "content-type": "application/json" };

describe("JSON bodies only", () => {
  it("refuses a text/plain or form POST (what a web page sends without a preflight) with an OpenAI 415", async () => {
    const send = await start();
    for (const type of [
      undefined,
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
    ]) {
      const reply = await send("POST", "/v1/chat/completions", type ? { "content-type": type } : {}, chat);
      expect(reply.status, String(type)).toBe(415);
      const error = JSON.parse(reply.body).error;
      expect(error).toMatchObject({
        type: "invalid_request_error",
        code: "unsupported_media_type",
        param: null,
      });
      expect(error.message).toContain("Content-Type: application/json");
    }
    expect((await send("POST", "/v1/route", { "content-type": "text/plain" }, '{"input":"x"}')).status).toBe(
      415,
    );
    expect(
      (
        await send(
          "POST",
          "/v1/chat/completions",
          { "content-type": "Application/JSON; charset=utf-8" },
          chat,
        )
      ).status,
    ).toBe(200);
    expect((await send("GET", "/v1/models")).status).toBe(200);
  });
});

describe("every spelling of the chat route", () => {
  // The exact path (with or without a query string) is served before Express; the spellings
  // Express also matches go through it. Both must refuse and answer alike.
  const spellings = [
    "/v1/chat/completions",
    "/v1/chat/completions?api-version=2024-10-21",
    "/v1/chat/completions/",
    "/V1/Chat/Completions",
  ];

  it("refuses a bad Host, a non-JSON body and a missing key the same way, with a request id", async () => {
    const send = await start({ apiKey: "sk-secret-123" });
    const auth = { authorization: "Bearer sk-secret-123" };
    for (const path of spellings) {
      const host = await send("POST", path, { host: "attacker.example", ...json, ...auth }, chat);
      expect(host.status, path).toBe(403);
      expect(JSON.parse(host.body).error.code).toBe("host_not_allowed");
      expect(host.headers["x-request-id"], path).toMatch(/^req_[0-9a-f]{32}$/);

      const text = await send("POST", path, { "content-type": "text/plain", ...auth }, chat);
      expect(text.status, path).toBe(415);

      const key = await send("POST", path, json, chat);
      expect(key.status, path).toBe(401);
      expect(JSON.parse(key.body).error.code).toBe("invalid_api_key");
      expect(key.headers["x-should-retry"], path).toBe("false");

      const ok = await send("POST", path, { ...json, ...auth }, chat);
      expect(ok.status, path).toBe(200);
      expect(JSON.parse(ok.body).object).toBe("chat.completion");
    }
  });

  it("answers CORS preflights and other methods through Express", async () => {
    const send = await start({ cors: ["http://localhost:3000"] });
    const preflight = await send("OPTIONS", "/v1/chat/completions", {
      origin: "http://localhost:3000",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type",
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("http://localhost:3000");
    const get = await send("GET", "/v1/chat/completions");
    expect(get.status).toBe(404);
    expect(JSON.parse(get.body).error.message).toMatch(/GET \/v1\/chat\/completions/);
  });
});

describe("Host allow-list (DNS rebinding)", () => {
  it("answers localhost, 127.0.0.1 and [::1] with any port, and refuses other names on every route", async () => {
    const send = await start();
    for (const host of ["localhost", "localhost:8000", "127.0.0.1:1234", "[::1]:8000", "LOCALHOST."]) {
      expect((await send("GET", "/v1/models", { host })).status, host).toBe(200);
    }
    for (const [method, path] of [
      ["GET", "/v1/models"],
      ["GET", "/health"],
      ["POST", "/v1/chat/completions"],
      ["GET", "/nothing-here"],
    ] as const) {
      const body = method === "POST" ? chat : undefined;
      const reply = await send(method, path, { host: "attacker.example:8000", ...json }, body);
      expect(reply.status, path).toBe(403);
      const error = JSON.parse(reply.body).error;
      expect(error.code).toBe("host_not_allowed");
      expect(error.message).toContain("--allowed-hosts attacker.example");
    }
  });

  it("answers any IP address as Host (no name to rebind: health checks and scrapers by pod IP), not names that look like one", async () => {
    const send = await start();
    for (const host of ["10.1.2.3:8000", "192.168.1.5", "[fd00::1]:8000", "[::ffff:10.0.0.1]"]) {
      expect((await send("GET", "/health", { host })).status, host).toBe(200);
    }
    for (const host of ["10.1.2.3.nip.io:8000", "1.2.3", "0x7f.1", "[evil.example]"]) {
      expect((await send("GET", "/health", { host })).status, host).toBe(403);
    }
  });

  it("answers the configured names, and any with *", async () => {
    const send = await start({ allowedHosts: ["herd.example.com", "192.168.1.5"] });
    expect((await send("GET", "/v1/models", { host: "Herd.Example.com:8000" })).status).toBe(200);
    expect((await send("GET", "/v1/models", { host: "192.168.1.5:8000" })).status).toBe(200);
    expect((await send("GET", "/v1/models", { host: "other.example.com" })).status).toBe(403);
    await closeServer?.();
    const any = await start({ allowedHosts: ["*"] });
    expect((await any("GET", "/v1/models", { host: "anything.example" })).status).toBe(200);
  });

  it("normalizes names the way browsers send them", () => {
    expect(normalizeHost("[::1]:8000")).toBe("[::1]");
    expect(normalizeHost("::1")).toBe("[::1]");
    expect(normalizeHost("Example.COM.:80")).toBe("example.com");
    // The same check, as a plain function any handler can call.
    const check = createHostCheck(["::1"]);
    const res = {} as never;
    expect(check({ headers: { host: "[::1]:9" } } as never, res)).toBeUndefined();
    expect(check({ headers: { host: "evil.test" } } as never, res)).toMatchObject({ status: 403 });
  });
});

describe("opt-in CORS", () => {
  const preflight = (origin: string) => ({
    origin,
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type, x-stainless-os",
  });

  it("sends no CORS headers and refuses no origin by default", async () => {
    const send = await start();
    const reply = await send(
      "POST",
      "/v1/chat/completions",
      { origin: "https://app.example", ...json },
      chat,
    );
    expect(reply.status).toBe(200);
    expect(reply.headers["access-control-allow-origin"]).toBeUndefined();
    expect((await send("OPTIONS", "/v1/chat/completions", preflight("https://app.example"))).status).toBe(
      404,
    );
  });

  it("answers preflights of the allowed origins and lets their pages read the routing headers", async () => {
    const send = await start({ cors: ["https://app.example", "http://localhost:3000/"], apiKey: "k" });
    const ok = await send("OPTIONS", "/v1/chat/completions", preflight("https://app.example"));
    expect(ok.status).toBe(204);
    expect(ok.headers).toMatchObject({
      "access-control-allow-origin": "https://app.example",
      "access-control-allow-methods": "GET, POST, OPTIONS",
      "access-control-allow-headers": "authorization, content-type, x-stainless-os",
      vary: "Origin",
    });
    const reply = await send(
      "POST",
      "/v1/chat/completions",
      { origin: "http://localhost:3000", authorization: "Bearer k", ...json },
      chat,
    );
    expect(reply.status).toBe(200);
    expect(reply.headers["access-control-allow-origin"]).toBe("http://localhost:3000");
    expect(String(reply.headers["access-control-expose-headers"])).toContain("x-herd-experts");

    const refused = await send("OPTIONS", "/v1/chat/completions", preflight("https://evil.example"));
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error.message).toContain("--cors https://evil.example");
    const foreign = await send("GET", "/v1/models", {
      origin: "https://evil.example",
      authorization: "Bearer k",
    });
    expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("allows every origin with *", async () => {
    const send = await start({ cors: ["*"] });
    const ok = await send("OPTIONS", "/v1/models", preflight("https://anything.example"));
    expect(ok.status).toBe(204);
    expect(ok.headers["access-control-allow-origin"]).toBe("https://anything.example");
  });
});

describe("the checks as plain functions", () => {
  it("give the same answers outside Express", () => {
    const checks = serverRequestChecks({ allowedHosts: ["herd.internal"] });
    const res = { setHeader: () => {} } as never;
    const req = (method: string, headers: Record<string, string>) => ({ method, headers }) as never;
    expect(
      runRequestChecks(
        checks,
        req("POST", { host: "herd.internal", "content-type": "application/json" }),
        res,
      ),
    ).toBe(undefined);
    expect(
      runRequestChecks(checks, req("POST", { host: "herd.internal", "content-type": "text/plain" }), res),
    ).toMatchObject({ status: 415 });
    expect(runRequestChecks(checks, req("GET", { host: "elsewhere" }), res)).toMatchObject({ status: 403 });
  });
});
