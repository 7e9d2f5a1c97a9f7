import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { AbortError, ProviderResponseError } from "../../../src/core/errors.js";
import { OllamaChatProvider } from "../../../src/providers/chat/ollama.js";
import { MAX_NDJSON_LINE_BYTES, parseNdjson } from "../../../src/providers/http/ndjson.js";

function streamOf(...pieces: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces)
        controller.enqueue(typeof piece === "string" ? encoder.encode(piece) : piece);
      controller.close();
    },
  });
}

async function all(stream: ReadableStream<Uint8Array>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const value of parseNdjson(stream)) out.push(value);
  return out;
}

describe("parseNdjson (the NDJSON reader under the Ollama chat provider)", () => {
  it("joins lines split across chunks, skips blank lines, and reads a last line without newline", async () => {
    expect(await all(streamOf('{"a":', '1}\n\n{"b"', ":2}\n", '{"c":3}'))).toEqual([
      { a: 1 },
      { b: 2 },
      { c: 3 },
    ]);
  });

  it("decodes multi-byte characters split between chunks", async () => {
    const bytes = new TextEncoder().encode('{"t":"日本"}\n');
    expect(await all(streamOf(bytes.slice(0, 8), bytes.slice(8)))).toEqual([{ t: "日本" }]);
  });

  it("throws the caller's error for a line that is not JSON", async () => {
    const lines = parseNdjson(streamOf('{"ok":1}\nnot json\n'), {
      onInvalid: (line) => new Error(`bad: ${line}`),
    });
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const v of lines) seen.push(v);
      })(),
    ).rejects.toThrow("bad: not json");
    expect(seen).toEqual([{ ok: 1 }]);
  });

  it("stops with AbortError when the signal fires", async () => {
    const controller = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"n":1}\n'));
      },
    });
    const seen: unknown[] = [];
    const error = await (async () => {
      for await (const v of parseNdjson(body, { signal: controller.signal })) {
        seen.push(v);
        controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(seen).toEqual([{ n: 1 }]);
    expect(error).toBeInstanceOf(AbortError);
  });

  it("refuses a line longer than the cap, also when it is split over many chunks", async () => {
    const pieces = Array.from({ length: 10 }, () => "x".repeat(100));
    const lines = parseNdjson(streamOf('{"ok":1}\n', ...pieces), { maxLineBytes: 512 });
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const v of lines) seen.push(v);
      })(),
    ).rejects.toThrow(ProviderResponseError);
    expect(seen).toEqual([{ ok: 1 }]);
  });

  it("fails fast with bounded memory on a 32 MB reply line without a newline (real loopback Ollama)", async () => {
    const mb = Buffer.alloc(1024 * 1024, 97);
    let sent = 0;
    let stopped = false;
    const backend = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      const write = () => {
        while (!stopped && sent < 32 && res.write(mb)) sent++;
        if (stopped) return;
        if (sent >= 32) res.end();
        else
          res.once("drain", () => {
            sent++;
            write();
          });
      };
      res.on("close", () => {
        stopped = true;
      });
      write();
    });
    await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    try {
      const provider = new OllamaChatProvider({ baseUrl: url });
      const error = await (async () => {
        for await (const _ of provider.stream({
          target: { model: "herd-code", adapters: [], base: false },
          messages: [{ role: "user", content: "hi" }],
          params: {},
        })) {
          // no chunk comes
        }
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderResponseError);
      expect((error as Error).message).toBe(
        `Ollama at ${url} sent a reply line longer than ${MAX_NDJSON_LINE_BYTES} bytes while generating with "herd-code"; ` +
          "Herd stopped reading it. Check the Ollama server (or what answers at this address).",
      );
      // Herd stopped reading soon after the cap instead of buffering the whole 32 MB line
      expect(sent).toBeLessThan(32);
    } finally {
      backend.closeAllConnections();
      await new Promise((resolve) => backend.close(resolve));
    }
  });
});
