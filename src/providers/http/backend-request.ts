import type { IncomingHttpHeaders } from "node:http";
import { isIP } from "node:net";
import type { Readable } from "node:stream";
import { AbortError, ProviderResponseError, ProviderUnavailableError } from "../../core/errors.js";
import { type BackendTimeouts, HEALTH_TIMEOUT_MS, resolveTimeouts } from "../../core/timeouts.js";
import { errorTextOf, requestError, timeoutError } from "./backend-errors.js";
import { fetchRequest } from "./fetch-request.js";
import {
  ERROR_TEXT_BYTES,
  REPLY_LIMITS,
  type ReplyLimit,
  type ReplySource,
  readUpTo,
  replyTooLarge,
} from "./reply-limits.js";

export { errorTextOf };

import { type ConnectionPool, type RequestTarget, type TimedRequest, timedRequest } from "./timed-request.js";

/** Describes the backend behind a URL, for error messages that say how to fix the problem. */
export interface BackendInfo {
  /** A human name, e.g. `Ollama`. */
  service: string;
  /** The base URL, named in every error. */
  baseUrl: string;
  /** What to do when the backend cannot be reached, e.g. "Start it with `ollama serve` or pass --ollama-url." */
  unreachableHint: string;
  /** A fetch to use instead of Herd's http.request client (tests, proxies). Timeouts still apply. @default none */
  fetch?: typeof fetch;
  /** Limits of every call to this backend (config `timeouts`). @default DEFAULT_TIMEOUTS */
  timeouts?: Partial<BackendTimeouts>;
  /**
   * Builds the error for a non-2xx reply from its status, body text and path (engines with their own
   * error shapes). @default ProviderResponseError with the body's message
   */
  toError?: (status: number, body: string, path: string) => Error;
}

/** One call to a backend. */
export interface BackendRequestInit {
  /** @default "GET" */
  method?: string;
  /** @default {} */
  headers?: Record<string, string>;
  /** A string or bytes (sent with a content length), or a stream (sent chunked). */
  body?: string | Uint8Array | Readable;
  /** Aborts the call; the caller then gets `AbortError`. */
  signal?: AbortSignal;
  /** Limits of this call over the backend's (a health check's short bound, say). @default the backend's */
  timeouts?: Partial<BackendTimeouts>;
  /** The connection budget: health checks use their own small pool. @default "requests" */
  pool?: ConnectionPool;
}

/** How long `finish()` waits for the rest of a reply after its final line: 250 ms. */
export const FINISH_GRACE_MS = 250;

/** How much `finish()` reads after a reply's final line: 64 KiB (a chunked body's end is 5 bytes). */
export const FINISH_MAX_BYTES = 64 * 1024;

/**
 * A backend's 2xx answer. `body` streams as it arrives (Node Buffers) under the idle and total
 * limits; read it once, or call `close()`. Breaking out of `for await (... of body)` closes it too.
 * `text()` and `json()` read it whole, up to a limit (REPLY_LIMITS).
 */
export class BackendResponse {
  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    readonly body: Readable,
    private readonly backend: BackendInfo,
    /** The path asked for (without its query), named in errors. @default "/" */
    readonly path = "/",
  ) {}

  /** Who sent this reply and for which path, as errors name it. */
  get source(): ReplySource {
    return { service: this.backend.service, baseUrl: this.backend.baseUrl, path: this.path };
  }

  /**
   * The whole body as text (UTF-8). A reply that announces, or sends, more than `limit.bytes` is
   * destroyed at once (no more of it is received) and fails with ReplyTooLargeError naming the
   * backend, its URL and the limit.
   */
  async text(limit: ReplyLimit = REPLY_LIMITS.listing): Promise<string> {
    const source = this.source;
    const declared = Number(this.headers["content-length"]);
    if (declared > limit.bytes) {
      this.body.destroy();
      throw replyTooLarge(source, limit, declared);
    }
    const { bytes, complete } = await readUpTo(this.body, limit.bytes);
    if (!complete) {
      this.body.destroy();
      throw replyTooLarge(source, limit);
    }
    return bytes.toString("utf8");
  }

  /** The whole body parsed as JSON (read as `text(limit)`); a reply that is not JSON is a ProviderResponseError. */
  async json(limit: ReplyLimit = REPLY_LIMITS.listing): Promise<unknown> {
    const text = await this.text(limit);
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new ProviderResponseError(
        `${this.backend.service} at ${this.backend.baseUrl} sent a reply that is not JSON: ${text.slice(0, 200)}`,
        this.status,
        this.backend.baseUrl,
        { cause },
      );
    }
  }

  /** The start of the body (at most `bytes`) as text, for an error message; stops reading there. */
  async prefix(bytes: number): Promise<string> {
    const read = await readUpTo(this.body, bytes);
    if (!read.complete) this.body.destroy();
    return read.bytes.toString("utf8");
  }

  /**
   * The body's chunks for a reader that may stop early (after a final line, say): stopping does
   * not close the body, so call `close()` when done, which keeps a fully received reply's socket.
   */
  chunks(): AsyncIterable<Buffer> {
    return this.body.iterator({ destroyOnReturn: false });
  }

  /**
   * Ends the call once the reader has the whole answer (Ollama's `done` line, an SSE `[DONE]`):
   * what is left of the reply is read so the keep-alive socket goes back to the pool. Servers such
   * as Ollama's (Go) write the end of a chunked body after the final line, in a later packet;
   * closing at the final line would cost a new connection per call. Bounded: the rest must arrive
   * within FINISH_GRACE_MS and FINISH_MAX_BYTES, else the connection is closed.
   */
  finish(): Promise<void> {
    const body = this.body;
    if (body.readableEnded || body.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      let left = FINISH_MAX_BYTES;
      const timer = setTimeout(() => body.destroy(), FINISH_GRACE_MS);
      const onData = (chunk: Buffer) => {
        left -= chunk.length;
        if (left < 0) body.destroy();
      };
      // The socket is back in the pool (or closed) once the body emits close.
      body.once("close", () => {
        clearTimeout(timer);
        body.off("data", onData);
        resolve();
      });
      body.on("data", onData);
      body.resume();
    });
  }

  /**
   * Stops reading. A reply that arrived in full is drained (as `finish` does) so its keep-alive
   * socket is reused (the promise resolves once it is back in the pool); one that did not is
   * destroyed, closing the connection.
   */
  close(): Promise<void> {
    const body = this.body as Readable & { complete?: boolean };
    if (!body.complete && !body.readableEnded) body.destroy();
    return this.finish();
  }
}

/**
 * The one way Herd calls a backend over HTTP: http.request on shared keep-alive agents (or the
 * backend's own fetch), under the connect / first-byte / idle / total limits of `timeouts`.
 * Maps a refused connection to ProviderUnavailableError (naming the URL and the fix), a limit that
 * ran out to BackendTimeoutError (504, retryable), an abort to AbortError, and a non-2xx reply to
 * ProviderResponseError carrying the backend's status and message.
 *
 * @example
 * const backend = { service: "Ollama", baseUrl: "http://127.0.0.1:11434", unreachableHint: "Start it." };
 * const tags = await (await backendRequest(backend, "api/tags")).json();
 */
export async function backendRequest(
  backend: BackendInfo,
  path: string,
  init: BackendRequestInit = {},
): Promise<BackendResponse> {
  const target = targetOf(backend.baseUrl, path);
  const timeouts = resolveTimeouts(backend.timeouts, init.timeouts);
  const request: TimedRequest = {
    target,
    method: init.method ?? "GET",
    headers: withLength(init.headers, init.body),
    body: init.body,
    signal: init.signal,
    pool: init.pool ?? "requests",
    timeouts,
    onTimeout: (phase, ms) => timeoutError(backend, target.path, phase, ms),
    onAbort: () => new AbortError(`The request to ${backend.service} was aborted.`),
  };
  let status: number;
  let headers: IncomingHttpHeaders;
  let body: Readable;
  try {
    if (backend.fetch) {
      ({ status, headers, body } = await fetchRequest(backend.fetch, request));
    } else {
      const res = await timedRequest(request);
      status = res.statusCode ?? 502;
      headers = res.headers;
      body = res;
    }
  } catch (error) {
    throw requestError(backend, error, init.signal);
  }
  const where = target.path.split("?")[0]!;
  const response = new BackendResponse(status, headers, body, backend, where);
  if (status >= 200 && status < 300) return response;
  const raw = await response.prefix(ERROR_TEXT_BYTES).catch(() => "");
  if (backend.toError) throw backend.toError(status, raw, where);
  const text = errorTextOf(raw);
  throw new ProviderResponseError(
    `${backend.service} at ${backend.baseUrl} answered ${status} for ${where}: ${text || `HTTP ${status}`}`,
    status,
    backend.baseUrl,
  );
}

/** A health check is one short call: it must not wait as long as a generation may. */
export const HEALTH_TIMEOUTS: Partial<BackendTimeouts> = {
  connectMs: HEALTH_TIMEOUT_MS,
  firstByteMs: HEALTH_TIMEOUT_MS,
  idleMs: HEALTH_TIMEOUT_MS,
  totalMs: HEALTH_TIMEOUT_MS,
};

/**
 * Checks that a backend answers `GET path` with a 2xx: on the health connection pool (so health
 * checks never take the sockets generations need) and within HEALTH_TIMEOUT_MS. Throws the same
 * errors as `backendRequest`. Every provider's `health()` should use it.
 */
export async function backendHealth(
  backend: BackendInfo,
  path: string,
  options: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<void> {
  const response = await backendRequest(backend, path, {
    headers: options.headers,
    signal: options.signal,
    pool: "health",
    timeouts: HEALTH_TIMEOUTS,
  });
  await response.text(REPLY_LIMITS.health);
}

/** The headers plus a content length for a string or byte body (the caller's own length wins). */
function withLength(headers: Record<string, string> | undefined, body: BackendRequestInit["body"]) {
  const out: Record<string, string> = {};
  if (headers) for (const name of Object.keys(headers)) out[name.toLowerCase()] = headers[name]!;
  if (out["content-length"] === undefined && (typeof body === "string" || body instanceof Uint8Array)) {
    out["content-length"] = String(typeof body === "string" ? Buffer.byteLength(body) : body.byteLength);
  }
  return out;
}

/** Parsed targets by base URL and path; providers call a handful of paths, so this stays small. */
const targets = new Map<string, RequestTarget>();

function targetOf(baseUrl: string, path: string): RequestTarget {
  const key = `${baseUrl}\n${path}`;
  let target = targets.get(key);
  if (target) return target;
  const url = new URL(path, baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ProviderUnavailableError(`Cannot call ${url.protocol} URLs: use http:// or https://.`, baseUrl);
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  target = {
    protocol: url.protocol,
    hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    // What the agent would work out on every request (an IP check by regex): SNI needs a name.
    servername: isIP(hostname) ? "" : hostname,
  };
  if (targets.size >= 1024) targets.clear();
  targets.set(key, target);
  return target;
}
