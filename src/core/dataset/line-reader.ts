import type { Readable } from "node:stream";

/** One line of a text stream, or a line that was too long to keep. */
export type ReadLine =
  | { line: number; text: string; tooLong?: undefined }
  | { line: number; text?: undefined; tooLong: number };

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into UTF-8 lines (`\n` or `\r\n`) in bounded memory: a line longer than
 * `maxLineBytes` is not kept; it is reported with its number and length and skipped to its end.
 * Memory is one read chunk plus at most `maxLineBytes` of the current line.
 */
export async function* readLines(input: Readable, maxLineBytes: number): AsyncGenerator<ReadLine> {
  let parts: Buffer[] = [];
  let size = 0;
  let overflow = 0;
  let line = 0;
  const finish = (): ReadLine => {
    line++;
    if (overflow > 0) {
      const result: ReadLine = { line, tooLong: overflow };
      overflow = 0;
      return result;
    }
    const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    let end = joined.length;
    if (end > 0 && joined[end - 1] === 0x0d) end--;
    const start = line === 1 && joined[0] === 0xef && joined[1] === 0xbb && joined[2] === 0xbf ? 3 : 0;
    return { line, text: joined.toString("utf8", start, end) };
  };
  const append = (piece: Buffer) => {
    if (piece.length === 0) return;
    if (overflow > 0) {
      overflow += piece.length;
      return;
    }
    if (size + piece.length > maxLineBytes) {
      overflow = size + piece.length;
      parts = [];
      size = 0;
      return;
    }
    parts.push(piece);
    size += piece.length;
  };
  for await (const chunk of input) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    let from = 0;
    for (let at = buffer.indexOf(NEWLINE, from); at >= 0; at = buffer.indexOf(NEWLINE, from)) {
      if (size === 0 && overflow === 0 && at - from <= maxLineBytes && line > 0) {
        // The whole line is in this chunk: decode it in place.
        line++;
        const end = at > from && buffer[at - 1] === 0x0d ? at - 1 : at;
        yield { line, text: buffer.toString("utf8", from, end) };
      } else {
        append(buffer.subarray(from, at));
        yield finish();
      }
      from = at + 1;
    }
    // Copy the rest: a kept slice would pin the whole read chunk in memory.
    append(Buffer.from(buffer.subarray(from)));
  }
  if (size > 0 || overflow > 0) yield finish();
}
