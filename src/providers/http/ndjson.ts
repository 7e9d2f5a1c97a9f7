import { AbortError, ProviderResponseError } from "../../core/errors.js";

/**
 * The longest NDJSON line read: 8 MiB. An Ollama line holds one token (or a whole non-streamed
 * answer, or one tool call's arguments), so real lines are bytes to kilobytes; the cap bounds the
 * memory a broken or hostile backend can make Herd hold for one line.
 */
export const MAX_NDJSON_LINE_BYTES = 8 * 1024 * 1024;

/** Settings of `parseNdjson`. */
export interface ParseNdjsonOptions {
  /** Stops reading (and closes the body) when it fires; the iterator then throws `AbortError`. */
  signal?: AbortSignal;
  /** Builds the error thrown for a line that is not JSON. @default a SyntaxError quoting the line */
  onInvalid?: (line: string, cause: unknown) => Error;
  /** The longest line accepted, in bytes. @default MAX_NDJSON_LINE_BYTES (8 MiB) */
  maxLineBytes?: number;
  /** Builds the error thrown for a line longer than `maxLineBytes`. @default a ProviderResponseError */
  onTooLong?: (limit: number) => Error;
}

const NEWLINE = 0x0a;

/**
 * Reads newline-delimited JSON (`application/x-ndjson`: one JSON value plus `\n` per line) from a
 * byte stream (a Node stream or a web ReadableStream), yielding each parsed value as its line
 * completes. Each byte is scanned once (no re-scan of a growing buffer), a line longer than
 * `maxLineBytes` fails at once with bounded memory, blank lines are skipped, and a last line
 * without `\n` is still parsed. Breaking out of the loop, or the signal, closes the stream.
 */
export async function* parseNdjson(
  body: AsyncIterable<Uint8Array>,
  options: ParseNdjsonOptions = {},
): AsyncGenerator<unknown> {
  const { signal } = options;
  const maxLine = options.maxLineBytes ?? MAX_NDJSON_LINE_BYTES;
  const onInvalid =
    options.onInvalid ??
    ((line, cause) => new SyntaxError(`Invalid NDJSON line: ${line.slice(0, 200)}`, { cause }));
  const tooLong =
    options.onTooLong ??
    ((limit) =>
      new ProviderResponseError(
        `The backend sent an NDJSON line longer than ${limit} bytes; Herd stopped reading.`,
      ));
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    signal?.throwIfAborted();
    for await (const piece of body) {
      signal?.throwIfAborted();
      const chunk = Buffer.isBuffer(piece)
        ? piece
        : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      let start = 0;
      let newline = chunk.indexOf(NEWLINE);
      while (newline !== -1) {
        let line = chunk.subarray(start, newline);
        if (pendingBytes > 0) {
          pending.push(line);
          line = Buffer.concat(pending, pendingBytes + line.length);
          pending = [];
          pendingBytes = 0;
        }
        if (line.length > maxLine) throw tooLong(maxLine);
        const text = line.toString("utf8");
        if (!isBlank(text)) {
          yield parseLine(text, onInvalid);
          signal?.throwIfAborted();
        }
        start = newline + 1;
        newline = chunk.indexOf(NEWLINE, start);
      }
      if (start < chunk.length) {
        pendingBytes += chunk.length - start;
        if (pendingBytes > maxLine) throw tooLong(maxLine);
        pending.push(start === 0 ? chunk : chunk.subarray(start));
      }
    }
    if (pendingBytes > 0) {
      const text = Buffer.concat(pending, pendingBytes).toString("utf8");
      pending = [];
      if (!isBlank(text)) yield parseLine(text, onInvalid);
    }
  } catch (error) {
    if (signal?.aborted && !(error instanceof AbortError)) {
      throw new AbortError("The stream was aborted.", { cause: error });
    }
    throw error;
  }
}

function isBlank(text: string): boolean {
  return text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === "");
}

function parseLine(line: string, onInvalid: (line: string, cause: unknown) => Error): unknown {
  try {
    return JSON.parse(line);
  } catch (cause) {
    throw onInvalid(line, cause);
  }
}
