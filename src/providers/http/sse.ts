import { createParser, type EventSourceMessage, ParseError } from "eventsource-parser";
import { AbortError } from "../../core/errors.js";

/** One server-sent event: its `data` (several `data:` lines joined by `\n`) and optional `event` name. */
export type SseEvent = EventSourceMessage;

/**
 * An SSE body: a web stream, or the Node chunks of a `BackendResponse` (`response.chunks()`). The
 * caller of a Node body closes it (`response.close()`) and aborts it through the request's signal.
 */
export type SseBody = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** Settings of `parseSse`. */
export interface ParseSseOptions {
  /** Stops reading (and cancels a web-stream body) when it fires; the iterator then throws `AbortError`. */
  signal?: AbortSignal;
  /** The most characters one event may buffer before the stream is refused. @default 8 MiB */
  maxEventChars?: number;
}

const DEFAULT_MAX_EVENT_CHARS = 8 * 1024 * 1024;

/**
 * Reads a `text/event-stream` body (the WHATWG SSE grammar, parsed by `eventsource-parser`) and
 * yields each event as it completes; comments and `retry:` lines are skipped. Breaking out of the
 * loop, or the signal, cancels a web-stream body (and so the HTTP request). An event larger than
 * `maxEventChars` throws a SyntaxError rather than growing a buffer without bound.
 */
export async function* parseSse(body: SseBody, options: ParseSseOptions = {}): AsyncGenerator<SseEvent> {
  const { signal } = options;
  const max = options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS;
  const events: SseEvent[] = [];
  let failure: Error | undefined;
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onError: (error) => {
      if (error instanceof ParseError && error.type === "max-buffer-size-exceeded")
        failure ??= new SyntaxError(`A server-sent event exceeded ${max} characters.`, { cause: error });
    },
    maxBufferSize: max,
  });
  const decoder = new TextDecoder();
  try {
    signal?.throwIfAborted();
    for await (const chunk of isWebStream(body) ? webChunks(body, signal) : body) {
      signal?.throwIfAborted();
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (failure) throw failure;
      while (events.length > 0) yield events.shift()!;
    }
    signal?.throwIfAborted();
    parser.feed(`${decoder.decode()}\n\n`);
    if (failure) throw failure;
    while (events.length > 0) yield events.shift()!;
  } catch (error) {
    if (signal?.aborted) throw new AbortError("The stream was aborted.", { cause: error });
    throw error;
  }
}

function isWebStream(body: SseBody): body is ReadableStream<Uint8Array> {
  return typeof (body as ReadableStream<Uint8Array>).getReader === "function";
}

/** A web stream's chunks; stopping early, or the signal, cancels the stream. */
async function* webChunks(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener("abort", cancel, { once: true });
  let done = false;
  try {
    while (!done) {
      const read = await reader.read();
      done = read.done;
      if (!read.done) yield read.value;
    }
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
