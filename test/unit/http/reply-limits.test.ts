import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProviderResponseError } from "../../../src/core/errors.js";
import { OllamaChatProvider } from "../../../src/providers/chat/ollama.js";
import { OllamaEmbedder } from "../../../src/providers/embedders/ollama.js";
import { backendRequest } from "../../../src/providers/http/backend-request.js";
import { EngineClient } from "../../../src/providers/http/engine-client.js";
import { REPLY_LIMITS } from "../../../src/providers/http/reply-limits.js";
import { OllamaCreateClient } from "../../../src/providers/ollama-build/ollama-create-client.js";
import { lazyJson, sendCounting, tooLarge } from "../../helpers/oversize-reply.js";

/**
 * Every backend reply Herd reads whole is bounded: past its limit the reply is destroyed (the
 * server sees the connection close long before it could send the rest) and the call fails with
 * ReplyTooLargeError naming the backend, its URL and the limit.
 */

const MiB = 1024 * 1024;

/** What the next request gets: a JSON body of `bytes` (an oversize one offered lazily), or a stream. */
interface Plan {
  status: number;
  contentType: string;
  /** Total bytes offered: a valid JSON document with a long string in it. */
  bytes: number;
  /** Announced as the content length instead of sending a chunked reply. */
  declare?: boolean;
  /** One NDJSON line this long, never ended. */
  line?: boolean;
}

let plan: Plan;
/** Resolves, when the connection closes, with the bytes the server had produced (Infinity if it sent them all). */
let closedEarly: Promise<number>;
let server: http.Server;
let base = "";

/** A JSON document of `bytes` bytes: a status line, or a chat reply whose content is "xxx...". */
function lazyBody(bytes: number, line: boolean): Readable {
  return line
    ? lazyJson('{"status":"', '"}\n', bytes)
    : lazyJson(
        '{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"',
        '"},"finish_reason":"stop"}]}',
        bytes,
      );
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const headers: Record<string, string> = { "content-type": plan.contentType };
      if (plan.declare) headers["content-length"] = String(plan.bytes);
      res.writeHead(plan.status, headers);
      closedEarly = sendCounting(res, lazyBody(plan.bytes, plan.line ?? false));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const engine = () => new EngineClient({ service: "vLLM", url: base, unreachableHint: "Start it." });
const chatBody = { model: "herd-code", stream: false, messages: [{ role: "user" as const, content: "hi" }] };

async function drain(chunks: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of chunks) {
    // read to the end
  }
}

describe("replies read whole are bounded", () => {
  it("a non-streamed engine chat reply past 16 MiB fails naming the engine URL and the limit", async () => {
    plan = { status: 200, contentType: "application/json", bytes: 1024 * MiB };
    const error = await tooLarge(() => drain(engine().chat(chatBody)));
    expect(error.message).toContain(`vLLM at ${base}`);
    expect(error.message).toContain("/v1/chat/completions");
    expect(error.message).toContain("larger than 16 MiB");
    expect(error.message).toMatch(/stream the reply/);
    expect(error.limit).toBe(REPLY_LIMITS.chat.bytes);
    expect(error.isRetryable).toBe(false);
    expect(error.code).toBe("reply_too_large");
    // The connection was closed: the server stopped long before the gigabyte it offered.
    const offered = await closedEarly;
    expect(offered).toBeGreaterThan(0);
    expect(offered).toBeLessThan(64 * MiB);
  });

  it("a reply just under the limit is still read", async () => {
    plan = { status: 200, contentType: "application/json", bytes: 15 * MiB };
    const chunks: { type: string; text?: string }[] = [];
    for await (const chunk of engine().chat(chatBody)) chunks.push(chunk as { type: string; text?: string });
    const text = chunks.map((c) => c.text ?? "").join("");
    expect(text.length).toBeGreaterThan(15 * MiB - 200);
  });

  it("a reply announcing a size past the limit fails before its body is read", async () => {
    plan = { status: 200, contentType: "application/json", bytes: 512 * MiB, declare: true };
    const error = await tooLarge(() => drain(engine().chat(chatBody)));
    expect(error.message).toContain("it announced 512 MiB");
    expect(await closedEarly).toBeLessThan(64 * MiB);
  });

  it("an engine listing (GET /v1/models) past 4 MiB fails", async () => {
    plan = { status: 200, contentType: "application/json", bytes: 64 * MiB };
    const error = await tooLarge(() => engine().getJson("v1/models"));
    expect(error.message).toContain(`vLLM at ${base} sent a reply to /v1/models larger than 4 MiB`);
    expect(await closedEarly).toBeLessThan(32 * MiB);
  });

  it("the same bound holds through an injected fetch", async () => {
    plan = { status: 200, contentType: "application/json", bytes: 64 * MiB };
    const client = new EngineClient({ service: "vLLM", url: base, unreachableHint: "Start it.", fetch });
    const error = await tooLarge(() => client.getJson("v1/models"));
    expect(error.message).toContain("larger than 4 MiB");
    expect(await closedEarly).toBeLessThan(32 * MiB);
  });

  it("Ollama's model list (GET /api/tags) past 4 MiB fails", async () => {
    plan = { status: 200, contentType: "application/json", bytes: 64 * MiB };
    const error = await tooLarge(() => new OllamaChatProvider({ baseUrl: base }).listModels());
    expect(error.message).toContain(`Ollama at ${base} sent a reply to /api/tags larger than 4 MiB`);
  });

  it("an Ollama embeddings reply fails past a limit that grows with the batch", async () => {
    plan = { status: 200, contentType: "application/json", bytes: 64 * MiB };
    const embedder = new OllamaEmbedder({ model: "nomic-embed-text", baseUrl: base, batchSize: 2 });
    const error = await tooLarge(() => embedder.embed(["a", "b"]));
    // 1 MiB + 2 x 256 KiB
    expect(error.message).toContain("larger than 1.5 MiB, Herd's limit for an embeddings reply for 2 texts");
    expect(await closedEarly).toBeLessThan(32 * MiB);
  });

  it("an error reply keeps the start of its body and closes the connection", async () => {
    plan = { status: 500, contentType: "text/plain", bytes: 256 * MiB };
    const error = await backendRequest(
      { service: "Ollama", baseUrl: base, unreachableHint: "Start it." },
      "api/chat",
      {
        method: "POST",
        body: "{}",
      },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as Error).message).toContain(`Ollama at ${base} answered 500 for /api/chat`);
    expect(await closedEarly).toBeLessThan(64 * MiB);
  });

  it("the official Ollama client's replies are bounded too: a whole JSON body and a streamed line", async () => {
    const client = new OllamaCreateClient({ baseUrl: base });
    plan = { status: 200, contentType: "application/json", bytes: 64 * MiB };
    const list = await tooLarge(() => client.listModels());
    expect(list.message).toContain(`Ollama at ${base} sent a reply to /api/tags larger than 4 MiB`);
    expect(await closedEarly).toBeLessThan(32 * MiB);

    plan = { status: 200, contentType: "application/x-ndjson", bytes: 512 * MiB, line: true };
    const pull = await tooLarge(() => client.pull("llama3.2:1b"));
    expect(pull.message).toContain("larger than 8 MiB, Herd's limit for one line of a streamed reply");
    expect(await closedEarly).toBeLessThan(64 * MiB);
  });
});
