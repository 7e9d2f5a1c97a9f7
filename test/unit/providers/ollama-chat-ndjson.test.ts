import { describe, expect, it } from "vitest";
import { AbortError } from "../../../src/core/errors.js";
import { parseNdjson } from "../../../src/providers/http/ndjson.js";

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
});
