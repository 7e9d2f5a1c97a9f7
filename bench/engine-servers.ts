import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Fast stand-ins for the serving engines, for the facade benchmark: each speaks just enough of its
 * engine's API for the Herd provider (vLLM: GET /v1/models with LoRA cards; llama-server:
 * GET /lora-adapters; all: GET /health and POST /v1/chat/completions, SSE or JSON) and answers at
 * once with precomputed bodies, like the fake Ollama, so rows compare what each provider adds.
 */

/** The engines the benchmark can stand in for. */
export type EngineKind = "vllm" | "lorax" | "llama-server";

/** Every engine kind, in the order the benchmark prints them. */
export const ENGINES: readonly EngineKind[] = ["vllm", "lorax", "llama-server"];

const TOKENS = ["Routing", " picks", " the", " expert", " nearest", " to", " the", " prompt."];
const EXPERTS = ["qa", "creative", "code", "reasoning", "function", "general"];

function chunk(delta: Record<string, unknown>, finish: string | null): string {
  return `data: ${JSON.stringify({
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created: 1741570283,
    model: "herd-code",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  })}\n\n`;
}

const SSE_BODY = [
  chunk({ role: "assistant", content: "" }, null),
  ...TOKENS.map((t) => chunk({ content: t }, null)),
  chunk({}, "stop"),
  `data: ${JSON.stringify({ id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1741570283, model: "herd-code", choices: [], usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 } })}\n\n`,
  "data: [DONE]\n\n",
].join("");

const JSON_BODY = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1741570283,
  model: "herd-code",
  choices: [
    {
      index: 0,
      message: { role: "assistant", content: TOKENS.join("") },
      logprobs: null,
      finish_reason: "stop",
    },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 },
});

function getReply(kind: EngineKind, path: string): string | undefined {
  if (path === "/health") return kind === "llama-server" ? '{"status":"ok"}' : "";
  if (kind === "vllm" && path === "/v1/models") {
    const card = (id: string, parent: string | null) => ({ id, object: "model", owned_by: "vllm", parent });
    return JSON.stringify({
      object: "list",
      data: [card("llama3.2:3b", null), ...EXPERTS.map((e) => card(`herd-${e}`, "llama3.2:3b"))],
    });
  }
  if (kind === "llama-server" && path === "/lora-adapters")
    return JSON.stringify(EXPERTS.map((e, id) => ({ id, path: `/models/${e}.gguf`, scale: 0 })));
  return undefined;
}

/** Starts one engine stand-in on 127.0.0.1 port 0 and resolves to its port. */
export function startFakeEngine(kind: EngineKind): Promise<number> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "GET") {
        const body = getReply(kind, req.url ?? "");
        res.writeHead(body === undefined ? 404 : 200, { "content-type": "application/json" });
        res.end(body ?? '{"detail":"Not Found"}');
        return;
      }
      const body = Buffer.concat(chunks).toString("utf8");
      if (body.includes('"stream":true')) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(SSE_BODY);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON_BODY);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

/** The body of a direct chat request to an engine (the row "engine directly"). */
export function engineRequestBody(kind: EngineKind, stream = false): string {
  const body: Record<string, unknown> = {
    model: kind === "lorax" ? "/data/adapters/herd-code" : "herd-code",
    messages: [{ role: "user", content: "Write a Python function that reverses a list." }],
    stream,
  };
  if (kind === "llama-server") body.lora = EXPERTS.map((_, id) => ({ id, scale: id === 2 ? 1 : 0 }));
  return JSON.stringify(body);
}
