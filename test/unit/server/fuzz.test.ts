import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../src/server/app.js";
import { listen } from "../../helpers/listen.js";
import { FakeHerd } from "./fake-herd.js";

/** A small seeded PRNG (mulberry32), so a failing body can be reproduced. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const valid = { model: "herd", messages: [{ role: "user", content: "Write a haiku about routing." }] };
const text = (value: unknown) =>
  new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const nest = (depth: number, open: string, close: string, inner = "1") =>
  open.repeat(depth) + inner + close.repeat(depth);

/** Values of every JSON type, most of them wrong wherever they are put. */
const wrongValues: unknown[] = [
  null,
  true,
  -1,
  1e308,
  2.5,
  "",
  "x".repeat(300_000),
  [],
  [1, "a", null],
  {},
  { nested: { deeper: [1, 2, 3] } },
  "\u0000\u0001\u001f",
];

const fields = [
  "model",
  "messages",
  "temperature",
  "top_p",
  "top_k",
  "repetition_penalty",
  "max_tokens",
  "max_completion_tokens",
  "stop",
  "seed",
  "stream",
  "stream_options",
  "tools",
  "tool_choice",
  "response_format",
  "top_experts",
  "n",
];

/** Bodies each of which must be refused with a 4xx. */
function malformedBodies(): { name: string; body: Uint8Array }[] {
  const bodies: { name: string; body: Uint8Array }[] = [];
  const add = (name: string, body: unknown) =>
    bodies.push({ name, body: body instanceof Uint8Array ? body : text(body) });

  // Wrong types in every field (values that happen to be valid for a field are skipped).
  for (const field of fields) {
    for (const [i, value] of wrongValues.entries()) {
      const body = { ...valid, [field]: value };
      if (isAcceptable(field, value)) continue;
      add(`${field}=wrong#${i}`, body);
    }
  }
  // Missing or broken messages.
  add("no messages", { model: "herd" });
  add("no model", { messages: valid.messages });
  add("messages empty", { model: "herd", messages: [] });
  const badMessages: unknown[] = [
    { role: "user" },
    { content: "hi" },
    { role: "wizard", content: "hi" },
    { role: "tool", content: "42" },
    { role: "user", content: [{ type: "text" }] },
    { role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/a.png" } }] },
    { role: "user", content: [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }] },
    {
      role: "assistant",
      tool_calls: [{ id: 1, type: "function", function: { name: "f", arguments: "{}" } }],
    },
    { role: "system", content: null },
    "user: hi",
    null,
    [],
  ];
  for (const [i, message] of badMessages.entries())
    add(`bad message #${i}`, { model: "herd", messages: [message] });
  add("tool name with spaces", {
    ...valid,
    tools: [{ type: "function", function: { name: "get weather" } }],
  });
  add("tool_choice unknown", { ...valid, tool_choice: "sometimes" });
  add("response_format xml", { ...valid, response_format: { type: "xml" } });
  add("stop with numbers", { ...valid, stop: ["a", 1] });
  add("too many stops", { ...valid, stop: Array.from({ length: 50 }, (_, i) => `s${i}`) });
  // Unknown models, including huge names.
  add("unknown model", { ...valid, model: "gpt-4o" });
  add("unknown expert", { ...valid, model: "herd:nobody" });
  add("huge model name", { ...valid, model: "m".repeat(1_000_000) });
  add("huge role", { model: "herd", messages: [{ role: "r".repeat(500_000), content: "x" }] });
  // Not an object at all.
  for (const raw of [
    "",
    " ",
    "null",
    "true",
    "42",
    '"text"',
    "[]",
    "[1,2,3]",
    "{",
    "}",
    "{]",
    "NaN",
    "undefined",
  ]) {
    add(`raw ${JSON.stringify(raw)}`, raw);
  }
  add("trailing garbage", `${JSON.stringify(valid)}xyz`);
  add("two objects", `${JSON.stringify(valid)}${JSON.stringify(valid)}`);
  add("single quotes", "{'model': 'herd'}");
  add("comment", `/* hi */${JSON.stringify(valid)}`);
  // Deep nesting, in the body and inside fields that take free-form JSON.
  add("deep arrays", nest(100_000, "[", "]"));
  add("deep objects", nest(50_000, '{"a":', "}"));
  add("deep messages", `{"model":"herd","messages":${nest(10_000, "[", "]")}}`);
  add("deep tool schema", {
    ...valid,
    tools: [{ type: "function", function: { name: "f", parameters: JSON.parse(nest(200, '{"a":', "}")) } }],
  });
  add("deep response schema", {
    ...valid,
    response_format: {
      type: "json_schema",
      json_schema: { name: "s", schema: JSON.parse(nest(500, '{"p":', "}")) },
    },
  });
  // Invalid UTF-8 inside otherwise valid JSON.
  const utf8Breakers = [
    [0xff],
    [0xfe, 0xff],
    [0xc3],
    [0xe2, 0x82],
    [0xc0, 0xaf],
    [0xed, 0xa0, 0x80],
    [0x80],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
  ];
  for (const [i, bytes] of utf8Breakers.entries()) {
    const [head, tail] = JSON.stringify(valid).split("routing");
    add(`invalid utf-8 #${i}`, new Uint8Array([...text(head!), ...bytes, ...text(tail!)]));
  }
  // Random byte mutations of a valid body that break its JSON.
  const next = random(20240601);
  const source = text(valid);
  while (bodies.length < 400) {
    const copy = Uint8Array.from(source);
    const edits = 1 + Math.floor(next() * 4);
    for (let e = 0; e < edits; e++) copy[Math.floor(next() * copy.length)] = Math.floor(next() * 256);
    try {
      JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(copy));
    } catch {
      add(`mutation #${bodies.length}`, copy);
    }
  }
  return bodies;
}

/** Values that a field legitimately accepts (null is "absent" for every optional field). */
function isAcceptable(field: string, value: unknown): boolean {
  if (value === null) return field !== "model" && field !== "messages";
  switch (field) {
    case "temperature":
      return typeof value === "number" && value >= 0 && value <= 2;
    case "top_p":
      return typeof value === "number" && value >= 0 && value <= 1;
    case "repetition_penalty":
      return typeof value === "number" && value > 0;
    case "seed":
      return Number.isInteger(value);
    case "stop":
      return typeof value === "string" || (Array.isArray(value) && value.every((v) => typeof v === "string"));
    case "stream":
      return typeof value === "boolean";
    case "stream_options":
      return typeof value === "object" && !Array.isArray(value);
    case "tools":
      return Array.isArray(value) && value.length === 0;
    default:
      return false;
  }
}

describe("fuzz: malformed request bodies", () => {
  const errors: unknown[] = [];
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    server = await listen(
      createApp(new FakeHerd(), { bodyLimit: 2_000_000, logger: { error: (e) => errors.push(e) } }),
    );
  });
  afterAll(() => server.close());

  it("answers every one with a 4xx OpenAI error, never a 5xx, and keeps serving", async () => {
    const bodies = malformedBodies();
    expect(bodies.length).toBeGreaterThanOrEqual(300);
    const failures: string[] = [];
    const queue = [...bodies];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const res = await fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: item.body,
        });
        const body = (await res.json().catch(() => undefined)) as
          | { error?: Record<string, unknown> }
          | undefined;
        const shaped = body?.error && ["message", "type", "param", "code"].every((k) => k in body.error!);
        if (res.status < 400 || res.status > 499 || !shaped) failures.push(`${item.name}: ${res.status}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(failures).toEqual([]);
    expect(errors).toEqual([]);
    const ok = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(valid),
    });
    expect(ok.status).toBe(200);
  });

  it("answers malformed URLs and methods with a 4xx", async () => {
    const { request } = await import("node:http");
    const raw = (method: string, path: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(server.url);
        const req = request({ host: url.hostname, port: url.port, method, path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    const cases: [string, string][] = [
      ["GET", "/v1/models/%E0%A4%A"],
      ["GET", "/v1/models/%"],
      ["GET", "/%zz/../v1/models"],
      ["GET", "/v1/chat/completions"],
      ["DELETE", "/v1/models"],
      ["PUT", "/v1/route"],
      ["GET", `/v1/models/${"x".repeat(5000)}`],
      ["POST", "/v1/models?x=%ff&y[z][w]=1"],
    ];
    for (const [method, path] of cases) {
      const status = await raw(method, path);
      expect(status, `${method} ${path.slice(0, 40)}`).toBeGreaterThanOrEqual(400);
      expect(status, `${method} ${path.slice(0, 40)}`).toBeLessThan(500);
    }
    expect(errors).toEqual([]);
  });

  it("refuses a body over the limit with 413, also when it is sent without a length", async () => {
    const big = text({ ...valid, messages: [{ role: "user", content: "x".repeat(3_000_000) }] });
    const headers = { "content-type": "application/json" };
    const declared = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers, body: big });
    expect(declared.status).toBe(413);
    const chunked = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers,
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(200);
  });
});

describe("fuzz: request keys that are Object.prototype's names", () => {
  let server: Awaited<ReturnType<typeof listen>>;
  const errors: unknown[] = [];
  beforeAll(async () => {
    server = await listen(createApp(new FakeHerd(), { logger: { error: (e) => errors.push(e) } }));
  });
  afterAll(() => server.close());

  const keys = [
    "__proto__",
    "__defineGetter__",
    "__lookupSetter__",
    "constructor",
    "toString",
    "valueOf",
    "hasOwnProperty",
    "isPrototypeOf",
  ];
  const values = ["1", '"x"', "true", "{}", "[]", '{"a":1}'];

  it("answers each as an ignored field with the usual warning, never a 5xx", async () => {
    const failures: string[] = [];
    for (const key of keys) {
      for (const value of values) {
        // Built as text: an object literal would set the prototype instead of a key.
        const raw = `${JSON.stringify(valid).slice(0, -1)},${JSON.stringify(key)}:${value}}`;
        const res = await fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: raw,
        });
        await res.text();
        const warning = res.headers.get("x-herd-warning") ?? "";
        if (res.status !== 200 || !warning.includes(key)) {
          failures.push(`${key}=${value}: ${res.status} ${warning}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("refuses them as model names, nested keys and in /v1/route with a 4xx or answers, never a 5xx", async () => {
    const failures: string[] = [];
    for (const key of keys) {
      for (const [path, body] of [
        ["/v1/chat/completions", { ...valid, model: key }],
        ["/v1/chat/completions", { ...valid, model: `herd:${key}` }],
        ["/v1/route", { input: "hi", model: `herd:${key}` }],
        ["/v1/route", `{"input":"hi",${JSON.stringify(key)}:{"a":1}}`],
        [
          "/v1/chat/completions",
          `{"model":"herd","messages":[{"role":"user","content":"hi",${JSON.stringify(key)}:{"role":"system"}}],"metadata":{${JSON.stringify(key)}:1}}`,
        ],
        [
          "/v1/chat/completions",
          `{"model":"herd","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object",${JSON.stringify(key)}:{}}}}}`,
        ],
      ] as const) {
        const res = await fetch(`${server.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: typeof body === "string" ? body : JSON.stringify(body),
        });
        await res.text();
        if (res.status >= 500) failures.push(`${path} ${key}: ${res.status}`);
      }
    }
    expect(failures).toEqual([]);
    expect(errors).toEqual([]);
  });
});
