import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";

/** One keep-alive agent per protocol, shared by every backend client in the process. */
const agents = {
  "http:": new http.Agent({ keepAlive: true, maxSockets: 256 }),
  "https:": new https.Agent({ keepAlive: true, maxSockets: 256 }),
};

/** Statuses whose responses have no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

function headerRecord(headers: RequestInit["headers"]): Record<string, string> {
  if (!headers) return {};
  if (headers instanceof Headers) return Object.fromEntries(headers.entries());
  if (Array.isArray(headers)) return Object.fromEntries(headers);
  return headers as Record<string, string>;
}

type SendableBody = string | Uint8Array | Readable | undefined;

function sendable(body: RequestInit["body"]): SendableBody {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string" || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof ReadableStream)
    return Readable.fromWeb(body as import("node:stream/web").ReadableStream);
  throw new TypeError("keepAliveFetch sends string, byte or stream bodies only.");
}

/**
 * A `fetch` for backend calls on `http.request` with keep-alive agents. On loopback it costs a
 * fraction of global fetch (undici) per request (see shared/notes/performance.md); the reply is a
 * standard `Response` whose body streams as it arrives. Supports what Herd's providers send: string,
 * byte or stream bodies, headers, and an AbortSignal that also cancels a body being read.
 */
export const keepAliveFetch: typeof fetch = (input, init = {}) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const signal = init.signal ?? undefined;
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const transport = url.protocol === "https:" ? https : http;
    const agent = agents[url.protocol as keyof typeof agents];
    if (!agent) {
      reject(new TypeError(`keepAliveFetch cannot fetch ${url.protocol} URLs.`));
      return;
    }
    let body: SendableBody;
    try {
      body = sendable(init.body);
    } catch (error) {
      reject(error);
      return;
    }
    const headers = headerRecord(init.headers);
    if (typeof body === "string" || body instanceof Uint8Array) {
      headers["content-length"] ??= String(
        typeof body === "string" ? Buffer.byteLength(body) : body.byteLength,
      );
    }
    const request = transport.request(
      url,
      { method: init.method ?? "GET", headers, agent, signal },
      (res) => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
          else if (value !== undefined) responseHeaders.set(name, value);
        }
        const status = res.statusCode ?? 500;
        const stream = NULL_BODY.has(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        if (!stream) res.resume();
        resolve(
          new Response(stream, { status, statusText: res.statusMessage ?? "", headers: responseHeaders }),
        );
      },
    );
    request.on("error", reject);
    if (body instanceof Readable) {
      body.on("error", (error) => request.destroy(error));
      body.pipe(request);
    } else {
      request.end(body);
    }
  });
};
