import type { IncomingHttpHeaders } from "node:http";
import { Readable } from "node:stream";
import type { TimedRequest } from "./timed-request.js";

/** A reply in the shape `backendRequest` works with. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
}

/**
 * Sends a request through an injected `fetch` (tests, proxies) under the same limits as Herd's own
 * client: connect and first byte together until the reply's headers, idle while Herd waits for body
 * bytes, total until the body ends. The body comes back as a Node stream of Buffers.
 */
export async function fetchRequest(fetchFn: typeof fetch, request: TimedRequest): Promise<RawResponse> {
  const { target, timeouts, signal } = request;
  if (signal?.aborted) throw request.onAbort();
  const controller = new AbortController();
  const onAbort = () => controller.abort(request.onAbort());
  signal?.addEventListener("abort", onAbort, { once: true });
  const total = setTimeout(
    () => controller.abort(request.onTimeout("totalMs", timeouts.totalMs)),
    timeouts.totalMs,
  );
  const cleanup = () => {
    clearTimeout(total);
    signal?.removeEventListener("abort", onAbort);
  };
  const head = setTimeout(
    () => controller.abort(request.onTimeout("firstByteMs", timeouts.firstByteMs)),
    timeouts.connectMs + timeouts.firstByteMs,
  );
  const host = target.hostname.includes(":") ? `[${target.hostname}]` : target.hostname;
  const url = `${target.protocol}//${host}${target.port ? `:${target.port}` : ""}${target.path}`;
  const body = request.body;
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: request.method,
      headers: request.headers,
      body: body instanceof Readable ? (Readable.toWeb(body) as ReadableStream) : body,
      signal: controller.signal,
      ...(body instanceof Readable ? { duplex: "half" } : {}),
    } as RequestInit);
  } catch (error) {
    cleanup();
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(head);
  }
  const headers: IncomingHttpHeaders = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const reader = response.body?.getReader();
  if (!reader) {
    cleanup();
    return { status: response.status, headers, body: Readable.from([]) };
  }
  let waiting = false;
  let quietSince = performance.now();
  const idle = setInterval(
    () => {
      if (waiting && performance.now() - quietSince >= timeouts.idleMs) {
        controller.abort(request.onTimeout("idleMs", timeouts.idleMs));
        void reader.cancel(controller.signal.reason).catch(() => undefined);
      }
    },
    Math.max(1, Math.floor(timeouts.idleMs / 4)),
  );
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        waiting = true;
        quietSince = performance.now();
        const step = await reader!.read().catch((error: unknown) => {
          throw controller.signal.aborted ? controller.signal.reason : error;
        });
        waiting = false;
        if (controller.signal.aborted) throw controller.signal.reason;
        if (step.done) return;
        yield Buffer.from(step.value.buffer, step.value.byteOffset, step.value.byteLength);
      }
    } finally {
      clearInterval(idle);
      cleanup();
      void reader!.cancel().catch(() => undefined);
    }
  }
  return { status: response.status, headers, body: Readable.from(chunks(), { objectMode: false }) };
}
