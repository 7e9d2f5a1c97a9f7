import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import type { BackendTimeouts } from "../../core/timeouts.js";

/** Which connection budget a call uses: generations and embeddings, or health checks. */
export type ConnectionPool = "requests" | "health";

/**
 * The keep-alive agents shared by every backend client in the process. Health checks have their
 * own small pool, so a flood of `/health` calls against a slow backend can never take the sockets
 * that chat requests need.
 */
const agents = {
  requests: {
    "http:": new http.Agent({ keepAlive: true, maxSockets: 256 }),
    "https:": new https.Agent({ keepAlive: true, maxSockets: 256 }),
  },
  health: {
    "http:": new http.Agent({ keepAlive: true, maxSockets: 2 }),
    "https:": new https.Agent({ keepAlive: true, maxSockets: 2 }),
  },
};

/** Where a request goes, parsed once per URL. */
export interface RequestTarget {
  protocol: "http:" | "https:";
  hostname: string;
  port: string;
  path: string;
  /** The TLS server name (SNI): the host name, or empty for an IP address. Computed once, not per request. */
  servername: string;
}

/** One HTTP request to send. */
export interface TimedRequest {
  target: RequestTarget;
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array | Readable;
  signal?: AbortSignal;
  pool: ConnectionPool;
  timeouts: BackendTimeouts;
  /** Builds the error for a phase that ran out of time (the caller names the backend). */
  onTimeout: (phase: keyof BackendTimeouts, ms: number) => Error;
  /** Builds the error for the caller's abort. */
  onAbort: () => Error;
}

/**
 * Sends a request with `http.request` on the shared keep-alive agents and resolves with the
 * response as soon as its headers arrive; the body streams as Herd reads it. Four limits apply:
 * connect (until a socket is connected), first byte (from the request fully sent to the response
 * headers), idle (silence while Herd waits for more body) and total (until the body ends). A limit
 * that runs out, or the signal, destroys the request or response with the matching error, so a
 * reader of the body sees it and the socket is never reused. No timer or listener outlives the call.
 */
export function timedRequest(request: TimedRequest): Promise<IncomingMessage> {
  const { target, timeouts, signal } = request;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(request.onAbort());
      return;
    }
    const transport = target.protocol === "https:" ? https : http;
    const req = transport.request({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      path: target.path,
      method: request.method,
      headers: request.headers,
      agent: agents[request.pool][target.protocol],
      servername: target.servername,
    });
    let response: IncomingMessage | undefined;
    let connected = false;
    let sent = false;
    let idleWatch: NodeJS.Timeout | undefined;

    const fail = (error: Error) => {
      if (response) response.destroy(error);
      else req.destroy(error);
    };
    const expire = (phase: keyof BackendTimeouts) => () => fail(request.onTimeout(phase, timeouts[phase]));
    const total = setTimeout(expire("totalMs"), timeouts.totalMs);
    let phase: NodeJS.Timeout | undefined = setTimeout(expire("connectMs"), timeouts.connectMs);
    const onAbort = () => fail(request.onAbort());
    signal?.addEventListener("abort", onAbort, { once: true });

    const cleanup = () => {
      clearTimeout(total);
      clearTimeout(phase);
      clearInterval(idleWatch);
      signal?.removeEventListener("abort", onAbort);
    };
    // The first-byte clock starts once the socket is connected and the whole request is written.
    const startFirstByte = () => {
      if (!connected || !sent || response) return;
      clearTimeout(phase);
      phase = setTimeout(expire("firstByteMs"), timeouts.firstByteMs);
    };
    const onConnect = () => {
      connected = true;
      clearTimeout(phase);
      phase = undefined;
      startFirstByte();
    };

    req.on("socket", (socket) => {
      if (socket.connecting) socket.once("connect", onConnect);
      else onConnect();
    });
    req.on("finish", () => {
      sent = true;
      startFirstByte();
    });
    req.on("error", (error) => {
      if (response) return; // the response's own stream reports it, and its close cleans up
      cleanup();
      reject(error);
    });
    req.on("response", (res) => {
      response = res;
      clearTimeout(phase);
      phase = undefined;
      // A reader that stops before the end gets its error from the stream; this keeps an unread
      // error (a timeout while nobody reads) from becoming an uncaught exception.
      res.on("error", noop);
      res.once("close", cleanup);
      idleWatch = watchIdle(res, timeouts.idleMs, expire("idleMs"));
      resolve(res);
    });

    const body = request.body;
    if (body === undefined || typeof body === "string" || body instanceof Uint8Array) {
      req.end(body);
    } else {
      body.once("error", (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

function noop(): void {}

/**
 * Fires `onIdle` when the body has been silent for `idleMs` while Herd waits for more: no bytes
 * came in and none sit unread in the response. A slow reader (a client reading slowly, so the
 * response buffer is full) is not the backend's silence. Polls four times per period instead of
 * touching a timer on every chunk, so a stall is seen within 1.25 x idleMs.
 */
function watchIdle(res: IncomingMessage, idleMs: number, onIdle: () => void): NodeJS.Timeout {
  const socket = res.socket;
  let seen = socket?.bytesRead ?? 0;
  let quietSince = performance.now();
  return setInterval(
    () => {
      const read = socket?.bytesRead ?? 0;
      const now = performance.now();
      if (read !== seen || res.readableLength > 0) {
        seen = read;
        quietSince = now;
      } else if (now - quietSince >= idleMs) {
        onIdle();
      }
    },
    Math.max(1, Math.floor(idleMs / 4)),
  );
}
