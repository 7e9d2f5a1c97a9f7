import { Readable } from "node:stream";
import { type BackendInfo, backendRequest, errorTextOf } from "./backend-request.js";

export { type BackendInfo, errorTextOf };

/** Statuses whose responses have no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * `backendRequest` with fetch-style arguments and result, for code written against `fetch`:
 * the same client, limits (`backend.timeouts`) and error mapping, but the reply is wrapped in a
 * standard `Response`. New code should call `backendRequest`, which skips that wrapping.
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
  const body = NULL_BODY.has(response.status) ? null : (Readable.toWeb(response.body) as ReadableStream);
  if (!body) response.close();
  return new Response(body, { status: response.status, headers });
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
