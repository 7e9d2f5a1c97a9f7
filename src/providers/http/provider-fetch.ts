import { Readable } from "node:stream";
import { type BackendInfo, type BackendResponse, backendRequest, errorTextOf } from "./backend-request.js";
import { MAX_NDJSON_LINE_BYTES } from "./ndjson.js";
import { REPLY_LIMITS, type ReplyLimit, replyTooLarge } from "./reply-limits.js";

export { type BackendInfo, errorTextOf };

/** Statuses whose responses have no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * `backendRequest` with fetch-style arguments and result, for code written against `fetch`:
 * the same client, limits (`backend.timeouts`) and error mapping, but the reply is wrapped in a
 * standard `Response`. New code should call `backendRequest`, which skips that wrapping.
 * The body is bounded like every reply Herd reads (the caller may read it whole with `json()`):
 * a streamed one (NDJSON, SSE) per line, any other in all, both failing with ReplyTooLargeError.
 */
export async function providerFetch(
  backend: BackendInfo,
  path: string,
  init: RequestInit & { signal?: AbortSignal | null },
): Promise<Response> {
  const response = await backendRequest(backend, path, {
    method: init.method,
    headers: headerRecord(init.headers),
    body: sendable(init.body),
    signal: init.signal ?? undefined,
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const body = NULL_BODY.has(response.status)
    ? null
    : (Readable.toWeb(Readable.from(bounded(response))) as ReadableStream);
  if (!body) response.close();
  return new Response(body, { status: response.status, headers });
}

/** One line of a streamed reply (an Ollama create or pull progress line): the NDJSON parser's bound. */
const STREAM_LINE: ReplyLimit = {
  bytes: MAX_NDJSON_LINE_BYTES,
  what: "one line of a streamed reply",
  hint: "Check the backend's log, and that the URL points at the backend itself.",
};

/**
 * The reply's chunks, stopped with ReplyTooLargeError (which destroys the reply) once a streamed
 * reply's line, or any other reply in all, goes past its limit. A line is measured up to the
 * chunk's first and from its last newline, so a line inside one chunk is bounded by the chunk.
 */
async function* bounded(response: BackendResponse): AsyncGenerator<Buffer> {
  const streamed = /ndjson|event-stream/i.test(String(response.headers["content-type"] ?? ""));
  const limit = streamed ? STREAM_LINE : REPLY_LIMITS.listing;
  let run = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    const first = streamed ? chunk.indexOf(0x0a) : -1;
    if (run + (first === -1 ? chunk.length : first) > limit.bytes)
      throw replyTooLarge(response.source, limit);
    run = first === -1 ? run + chunk.length : chunk.length - chunk.lastIndexOf(0x0a) - 1;
    yield chunk;
  }
}

function headerRecord(headers: RequestInit["headers"]): Record<string, string> | undefined {
  if (!headers) return undefined;
  if (headers instanceof Headers) return Object.fromEntries(headers.entries());
  if (Array.isArray(headers)) return Object.fromEntries(headers);
  return headers as Record<string, string>;
}

function sendable(body: RequestInit["body"]): string | Uint8Array | Readable | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string" || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof ReadableStream)
    return Readable.fromWeb(body as import("node:stream/web").ReadableStream);
  throw new TypeError("providerFetch sends string, byte or stream bodies only.");
}
