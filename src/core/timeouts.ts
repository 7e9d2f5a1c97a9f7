/**
 * How long a backend call may take, in milliseconds, per phase. Every backend call (chat providers,
 * embedders, Ollama build and health calls, Chroma) runs under these limits, so a backend that
 * accepts the connection and then stalls frees its generation slot instead of holding it.
 */
export interface BackendTimeouts {
  /** Getting a connection: the TCP (and TLS) handshake, or a free socket of the pool. */
  connectMs: number;
  /** From the request sent to the response headers: covers a model being loaded into memory. */
  firstByteMs: number;
  /** The longest silence between two pieces of the response body while Herd is waiting for more. */
  idleMs: number;
  /** The whole call, from start to the last byte of the body. */
  totalMs: number;
}

/**
 * The defaults, chosen for LLM generation on a local or LAN backend:
 * - connect 10 s: a healthy server accepts within milliseconds; 10 s tolerates a busy host.
 * - first byte 60 s: Ollama answers only after loading the model, which takes seconds to a minute
 *   for multi-GB models from a cold disk.
 * - idle 60 s: tokens arrive every few ms to a few hundred ms; a minute of silence is a stall
 *   (a non-streaming call counts its whole generation as time to first byte, see below).
 * - total 10 min: room for long answers on slow hardware, yet a bound on every call.
 */
export const DEFAULT_TIMEOUTS: Readonly<BackendTimeouts> = Object.freeze({
  connectMs: 10_000,
  firstByteMs: 60_000,
  idleMs: 60_000,
  totalMs: 600_000,
});

/** Health checks (`GET /health`) get their own short bound: a load balancer wants an answer now. */
export const HEALTH_TIMEOUT_MS = 5_000;

/** The largest timer Node accepts (about 24.8 days); longer values would fire at once. */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/** The defaults, overridden by the fields that are set. */
export function resolveTimeouts(...overrides: (Partial<BackendTimeouts> | undefined)[]): BackendTimeouts {
  const out = { ...DEFAULT_TIMEOUTS };
  for (const o of overrides) {
    if (!o) continue;
    if (o.connectMs !== undefined) out.connectMs = o.connectMs;
    if (o.firstByteMs !== undefined) out.firstByteMs = o.firstByteMs;
    if (o.idleMs !== undefined) out.idleMs = o.idleMs;
    if (o.totalMs !== undefined) out.totalMs = o.totalMs;
  }
  return out;
}
