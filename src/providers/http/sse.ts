import { createParser, type EventSourceMessage, ParseError } from "eventsource-parser";
import { AbortError } from "../../core/errors.js";

/** One server-sent event: its `data` (several `data:` lines joined by `\n`) and optional `event` name. */
export type SseEvent = EventSourceMessage;

/** Settings of `parseSse`. */
export interface ParseSseOptions {
  /** Stops reading (and cancels the body) when it fires; the iterator then throws `AbortError`. */
  signal?: AbortSignal;
  /** The most characters one event may buffer before the stream is refused. @default 8 MiB */
  maxEventChars?: number;
}

const DEFAULT_MAX_EVENT_CHARS = 8 * 1024 * 1024;

/**
 * Reads a `text/event-stream` body (the WHATWG SSE grammar, parsed by `eventsource-parser`) and
 * yields each event as it completes; comments and `retry:` lines are skipped. Breaking out of the
 * loop, or the signal, cancels the body (and so the HTTP request). An event larger than
 * `maxEventChars` throws a SyntaxError rather than growing a buffer without bound.
 */
export async function* parseSse(
  body: ReadableStream<Uint8Array>,
  options: ParseSseOptions = {},
): AsyncGenerator<SseEvent> {
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
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener("abort", cancel, { once: true });
  const decoder = new TextDecoder();
  let done = false;
  try {
    while (!done) {
      signal?.throwIfAborted();
      const read = await reader.read();
      signal?.throwIfAborted();
      done = read.done;
      parser.feed(done ? `${decoder.decode()}\n\n` : decoder.decode(read.value, { stream: true }));
      if (failure) throw failure;
      while (events.length > 0) yield events.shift()!;
    }
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
