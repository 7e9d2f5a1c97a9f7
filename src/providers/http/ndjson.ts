import { AbortError } from "../../core/errors.js";

/** Settings of `parseNdjson`. */
export interface ParseNdjsonOptions {
  /** Stops reading (and cancels the body) when it fires; the iterator then throws `AbortError`. */
  signal?: AbortSignal;
  /** Builds the error thrown for a line that is not JSON. @default a SyntaxError quoting the line */
  onInvalid?: (line: string, cause: unknown) => Error;
}

/**
 * Reads newline-delimited JSON (`application/x-ndjson`: one JSON value plus `\n` per line) from a
 * byte stream, yielding each parsed value as its line completes. Blank lines are skipped; a last line
 * without `\n` is still parsed. Breaking out of the loop, or the signal, cancels the stream (and so
 * the HTTP request), even with fetch implementations that do not tie the body to the signal.
 */
export async function* parseNdjson(
  body: ReadableStream<Uint8Array>,
  options: ParseNdjsonOptions = {},
): AsyncGenerator<unknown> {
  const { signal } = options;
  const onInvalid =
    options.onInvalid ??
    ((line, cause) => new SyntaxError(`Invalid NDJSON line: ${line.slice(0, 200)}`, { cause }));
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener("abort", cancel, { once: true });
  const decoder = new TextDecoder();
  let buffer = "";
  let done = false;
  try {
    while (!done) {
      signal?.throwIfAborted();
      const read = await reader.read();
      signal?.throwIfAborted();
      done = read.done;
      buffer += done ? decoder.decode() : decoder.decode(read.value, { stream: true });
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim() !== "") yield parseLine(line, onInvalid);
        newline = buffer.indexOf("\n");
      }
    }
    if (buffer.trim() !== "") yield parseLine(buffer, onInvalid);
  } catch (error) {
    if (signal?.aborted) throw new AbortError("The stream was aborted.", { cause: error });
    throw error;
  } finally {
    signal?.removeEventListener("abort", cancel);
    if (!done) cancel();
    try {
      reader.releaseLock();
    } catch {
      // a pending cancel may still hold the lock; the stream is closed either way
    }
  }
}

function parseLine(line: string, onInvalid: (line: string, cause: unknown) => Error): unknown {
  try {
    return JSON.parse(line);
  } catch (cause) {
    throw onInvalid(line, cause);
  }
}
