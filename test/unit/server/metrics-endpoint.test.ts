import { request } from "node:http";
import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProviderUnavailableError } from "../../../src/core/errors.js";
import { createHerd, type Herd } from "../../../src/herd.js";
import { MetricsPlugin } from "../../../src/plugins/metrics/index.js";
import { createApp } from "../../../src/server/app.js";
import { createMetricsApp } from "../../../src/server/metrics-routes.js";
import { chatStream, ndjsonResponse, OLLAMA_URL, ollamaChatMock } from "../../fixtures/ollama/ollama-mock.js";
import { listen } from "../../helpers/listen.js";
import { FakeHerd } from "./fake-herd.js";

const mock = ollamaChatMock(
  (body) => ndjsonResponse(chatStream(["Answer ", `from ${body.model}`])),
  OLLAMA_URL,
  ["herd-code", "herd-creative"],
);
const msw = setupServer(...mock.handlers);

const experts = {
  baseModel: "llama3.2",
  experts: [
    {
      name: "code",
      adapter: "code.gguf",
      examples: ["Write a Python function that reverses a list", "Implement binary search in Rust"],
    },
    {
      name: "creative",
      adapter: "creative.gguf",
      examples: ["Write a poem about the autumn sea", "Compose a haiku about snow on the mountains"],
    },
  ],
};

describe("GET /metrics on herd serve's app (real Herd, Ollama mocked at the edge)", () => {
  let herd: Herd;
  let server: Awaited<ReturnType<typeof listen>>;
  let metrics: MetricsPlugin;
  const key = { authorization: "Bearer sekret" };

  beforeAll(async () => {
    msw.listen({ onUnhandledRequest: "bypass" });
    herd = await createHerd({
      experts,
      provider: { name: "ollama", url: OLLAMA_URL },
      plugins: ["expert-override", { name: "metrics", options: { processMetrics: false } }],
    });
    metrics = herd.plugins.find((p): p is MetricsPlugin => p instanceof MetricsPlugin)!;
    server = await listen(createApp(herd, { apiKey: "sekret", metrics, logger: { error: () => {} } }));
  });
  afterAll(async () => {
    await server?.close();
    await herd?.close();
    msw.close();
  });

  const chat = (content: string, extra: Record<string, unknown> = {}) =>
    fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...key },
      body: JSON.stringify({ model: "herd", messages: [{ role: "user", content }], ...extra }),
    });

  it("needs the API key, then shows counters and histograms with route, model and expert labels", async () => {
    expect((await chat("Write a Python function that sorts a list")).status).toBe(200);
    expect((await chat("Write a poem about the sea", { stream: true })).status).toBe(200);
    expect((await chat("Write a haiku", { model: "herd:code" })).status).toBe(200);
    await fetch(`${server.url}/v1/route`, {
      method: "POST",
      headers: { "content-type": "application/json", ...key },
      body: JSON.stringify({ input: "Implement a queue in Rust" }),
    });

    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    const res = await fetch(`${server.url}/metrics`, { headers: key });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain(
      'herd_requests_total{route="/v1/chat/completions",model="herd-code",expert="code",status="200"} 2',
    );
    expect(text).toContain(
      'herd_requests_total{route="/v1/chat/completions",model="herd-creative",expert="creative",status="200"} 1',
    );
    expect(text).toContain(
      'herd_requests_total{route="/v1/route",model="herd-code",expert="code",status="200"} 1',
    );
    expect(text).toContain('herd_routing_decisions_total{expert="code",reason="forced"} 1');
    expect(text).toContain('herd_routing_decisions_total{expert="creative",reason="routed"} 1');
    expect(text).toMatch(
      /gen_ai_client_token_usage_sum\{gen_ai_operation_name="chat",gen_ai_provider_name="herd",gen_ai_request_model="herd:code",gen_ai_response_model="herd-code",herd_expert="code",gen_ai_token_type="output"\} \d+/,
    );
    expect(text).toMatch(
      /gen_ai_server_time_to_first_token_seconds_bucket\{le="\+Inf",.*herd_expert="creative"\} 1/,
    );
    expect(text).toMatch(
      /gen_ai_server_request_duration_seconds_count\{gen_ai_operation_name="chat",gen_ai_provider_name="herd",gen_ai_request_model="herd",gen_ai_response_model="herd-code",herd_expert="code"\} 1/,
    );
    expect(text).toContain("herd_requests_in_flight 0");
    expect(text).toContain("herd_requests_queued 0");
  });

  it("lists recent decisions behind the key", async () => {
    expect((await fetch(`${server.url}/v1/route/recent`)).status).toBe(401);
    const body = (await (await fetch(`${server.url}/v1/route/recent`, { headers: key })).json()) as {
      data: { model: string; reason: string; experts: { name: string; weight: number }[] }[];
    };
    expect(body.data[0]).toMatchObject({
      model: "herd-code",
      reason: "forced",
      experts: [{ name: "code", weight: 1 }],
    });
    expect(body.data.length).toBeGreaterThanOrEqual(3);
  });

  it("serves /metrics alone, without the key, on a metrics port of its own", async () => {
    const alone = await listen(createMetricsApp(metrics));
    try {
      const res = await fetch(`${alone.url}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("herd_requests_total");
      expect((await fetch(`${alone.url}/v1/models`)).status).toBe(404);
    } finally {
      await alone.close();
    }
  });

  it("refuses (403) a Host name it was not given on the metrics port, as the API port does (DNS rebinding)", async () => {
    const alone = await listen(createMetricsApp(metrics, { allowedHosts: ["metrics.internal"] }));
    const get = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const { hostname, port } = new URL(alone.url);
        const req = request({ host: hostname, port, path: "/metrics", headers: { host } }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            body += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end();
      });
    try {
      const rebound = await get("attacker.example:9464");
      expect(rebound.status).toBe(403);
      expect(rebound.body).not.toContain("herd_requests_total");
      expect(JSON.parse(rebound.body).error.code).toBe("host_not_allowed");
      expect((await get("localhost:9464")).status).toBe(200);
      expect((await get("metrics.internal:9464")).status).toBe(200);
    } finally {
      await alone.close();
    }
  });
});

describe("POST /v1/route in the metrics", () => {
  it("counts a routing failure (embedder down) by its status, not only successful decisions", async () => {
    const herd = new FakeHerd();
    herd.route = async () => {
      throw new ProviderUnavailableError("The embedder at http://127.0.0.1:11434 is not reachable.");
    };
    const metrics = new MetricsPlugin({ processMetrics: false });
    const server = await listen(createApp(herd, { metrics, logger: { error: () => {} } }));
    try {
      const res = await fetch(`${server.url}/v1/route`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input: "Implement a queue in Rust" }),
      });
      expect(res.status).toBe(503);
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toContain(
        'herd_requests_total{route="/v1/route",model="none",expert="none",status="503"} 1',
      );
    } finally {
      await server.close();
    }
  });
});
