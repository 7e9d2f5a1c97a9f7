import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineClient } from "../../../src/providers/http/engine-client.js";
import { parseSse } from "../../../src/providers/http/sse.js";

/**
 * The engine client reads replies from the Node response directly: a finished stream or JSON reply
 * gives its keep-alive socket back, so a run of requests uses one connection.
 */

const chunk = (delta: Record<string, unknown>, finish: string | null) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model: "herd-code", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const SSE = `${chunk({ role: "assistant", content: "" }, null)}${chunk({ content: "Hé" }, null)}${chunk({ content: "llo" }, "stop")}data: [DONE]\n\n`;
const JSON_REPLY = JSON.stringify({
  id: "c1",
  object: "chat.completion",
  model: "herd-code",
  choices: [{ index: 0, message: { role: "assistant", content: "Héllo" }, finish_reason: "stop" }],
});

let server: http.Server;
let accepted = 0;
let client: EngineClient;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const body: Buffer[] = [];
    req.on("data", (c: Buffer) => body.push(c));
    req.on("end", () => {
      if (req.url === "/generate_stream") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end('data: {"token":{"text":"a"}}\n\ndata: {"token":{"text":"b"}}\n\n');
      } else if (Buffer.concat(body).toString().includes('"late-end"')) {
        // Like uvicorn or Go servers: [DONE] is flushed, the chunked body's end follows later.
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(SSE);
        setTimeout(() => res.end(), 20);
      } else if (Buffer.concat(body).toString().includes('"stream":true')) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(SSE);
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON_REPLY);
      }
    });
  });
  server.on("connection", () => accepted++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  client = new EngineClient({
    service: "vLLM",
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    unreachableHint: "Start it.",
  });
});
afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
);

const text = async (stream: boolean) => {
  let out = "";
  const body = { model: "herd-code", messages: [{ role: "user" as const, content: "hi" }], stream };
  for await (const c of client.chat(body)) if (c.type === "text") out += c.text;
  return out;
};

describe("EngineClient on backendRequest", () => {
  it("reuses one keep-alive connection across streamed, JSON and native-stream replies", async () => {
    const before = accepted;
    for (let i = 0; i < 4; i++) {
      expect(await text(true)).toBe("Héllo");
      expect(await text(false)).toBe("Héllo");
      const events: unknown[] = [];
      for await (const e of client.events("generate_stream", { inputs: "hi" })) events.push(e);
      expect(events).toEqual([{ token: { text: "a" } }, { token: { text: "b" } }]);
    }
    expect(accepted - before).toBe(1);
  });

  it("keeps the connection when a stream's end arrives after [DONE]", async () => {
    const before = accepted;
    for (let i = 0; i < 3; i++) {
      let out = "";
      const body = { model: "late-end", messages: [{ role: "user" as const, content: "hi" }], stream: true };
      for await (const c of client.chat(body)) if (c.type === "text") out += c.text;
      expect(out).toBe("Héllo");
    }
    expect(accepted - before).toBeLessThanOrEqual(1);
  });

  it("parses SSE from Node chunks split inside a UTF-8 character", async () => {
    const bytes = Buffer.from('data: {"t":"é"}\n\ndata: x\n\n');
    const at = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
    const events = [];
    for await (const e of parseSse(Readable.from([bytes.subarray(0, at), bytes.subarray(at)])))
      events.push(e.data);
    expect(events).toEqual(['{"t":"é"}', "x"]);
  });
});
