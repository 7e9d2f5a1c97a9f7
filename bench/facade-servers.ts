import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ChatChunk } from "../src/core/chat.js";
import type { HerdStream } from "../src/core/pipeline.js";
import type { RoutingDecision } from "../src/core/routing.js";
import type { ServedHerd } from "../src/server/served-herd.js";

/**
 * The servers the facade benchmark runs in child processes: a fast fake Ollama backend and a bare
 * keep-alive pass-through proxy (the practical ceiling for any Node facade, see
 * ../shared/notes/performance.md).
 */

const created = "2025-07-07T20:22:19.184789Z";
const line = (content: string, done: boolean) =>
  `${JSON.stringify(
    done
      ? {
          model: "herd-bench",
          created_at: created,
          message: { role: "assistant", content: "" },
          done: true,
          done_reason: "stop",
          total_duration: 1000,
          load_duration: 10,
          prompt_eval_count: 12,
          prompt_eval_duration: 100,
          eval_count: 8,
          eval_duration: 800,
        }
      : { model: "herd-bench", created_at: created, message: { role: "assistant", content }, done: false },
  )}\n`;

const TOKENS = ["Routing", " picks", " the", " expert", " nearest", " to", " the", " prompt."];
const STREAM_LINES = TOKENS.map((t) => line(t, false));
const STREAM_BODY = STREAM_LINES.join("") + line("", true);
const JSON_BODY = JSON.stringify({
  model: "herd-bench",
  created_at: created,
  message: { role: "assistant", content: TOKENS.join("") },
  done: true,
  done_reason: "stop",
  total_duration: 1000,
  prompt_eval_count: 12,
  eval_count: 8,
});

const OPENAI_BODY = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1751919739,
  model: "herd-bench",
  choices: [{ index: 0, message: { role: "assistant", content: TOKENS.join("") }, finish_reason: "stop" }],
  usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 },
});

/**
 * A fake Ollama: POST /api/chat answers at once (NDJSON, or JSON with `"stream": false`), and its
 * OpenAI-compatible POST /v1/chat/completions (what Portkey's ollama provider calls) answers JSON.
 * In `drip` mode, or for a request whose body contains `[drip]`, the first line goes out at once and
 * the rest `dripMs` later, so the time to the
 * first byte can be told apart from the time to the last.
 */
export function startFakeOllama(mode: "fast" | "drip", dripMs = 20): Promise<number> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(req.url === "/api/tags" ? JSON.stringify({ models: [] }) : "Ollama is running");
        return;
      }
      const body = Buffer.concat(chunks).toString("utf8");
      if (req.url === "/v1/chat/completions") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(OPENAI_BODY);
        return;
      }
      if (body.includes('"stream":false')) {
        res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
        res.end(JSON_BODY);
        return;
      }
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      if (mode === "fast" && !body.includes("[drip]")) {
        res.end(STREAM_BODY);
        return;
      }
      res.write(STREAM_LINES[0]);
      setTimeout(() => res.end(STREAM_LINES.slice(1).join("") + line("", true)), dripMs);
    });
  });
  server.keepAliveTimeout = 60_000;
  return listen(server);
}

/** A bare pass-through: forwards each request to `target` with `http.request` and a keep-alive agent. */
export function startBareProxy(target: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: target,
        path: "/api/chat",
        method: req.method,
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": req.headers["content-length"] ?? "0",
        },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, { "content-type": up.headers["content-type"] ?? "text/plain" });
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 60_000;
  return listen(server);
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

/**
 * A Herd stand-in that answers at once with a fixed decision and text: no routing, no backend.
 * The facade over it shows what the HTTP layer alone (Express, validation, translation, JSON/SSE)
 * costs, apart from routing and the backend call.
 */
export function stubHerd(): ServedHerd {
  const decision: RoutingDecision = {
    ranked: [{ name: "code", distance: 0.2, similarity: 0.8, weight: 1 }],
    selected: [{ name: "code", distance: 0.2, similarity: 0.8, weight: 1 }],
    model: "herd-code",
    strategy: "centroid",
    weighting: "inverse-distance",
    reason: "routed",
    embedder: "stub",
    timings: { embedMs: 0, queryMs: 0, totalMs: 0 },
    warnings: [],
  };
  const chunks: ChatChunk[] = [
    ...TOKENS.map((text): ChatChunk => ({ type: "text", text })),
    { type: "finish", finishReason: "stop", usage: { inputTokens: 12, outputTokens: TOKENS.length } },
  ];
  const expert = {
    name: "code",
    description: "",
    categories: [],
    adapter: "",
    model: "herd-code",
    examples: [],
  };
  let requests = 0;
  return {
    experts: [expert],
    baseModel: "llama3.2",
    route: async () => decision,
    health: async () => ({}),
    stream: async () => {
      const stream: HerdStream = {
        requestId: `stub-${++requests}`,
        decision,
        target: { model: "herd-code", adapters: [], base: false },
        warnings: [],
        cancel: () => {},
        collect: async () => ({
          text: TOKENS.join(""),
          toolCalls: [],
          finishReason: "stop",
          model: "herd-code",
          decision,
          warnings: [],
          durationMs: 0,
        }),
        async *[Symbol.asyncIterator]() {
          yield* chunks;
        },
      };
      return stream;
    },
  };
}
