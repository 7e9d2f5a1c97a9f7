import { BackendTimeoutError } from "../core/errors.js";
import { HEALTH_TIMEOUT_MS } from "../core/timeouts.js";

/** What one health check found: the details of a healthy Herd, or why it is not. */
export type HealthResult = { ok: true; details: unknown } | { ok: false; error: unknown };

/** Settings of `cachedHealthCheck`. */
export interface HealthCheckOptions {
  /** How long a result is reused, in ms. @default 2000 */
  ttlMs?: number;
  /** How long a caller waits for a check before it counts as failed, in ms. @default HEALTH_TIMEOUT_MS (5 s) */
  timeoutMs?: number;
}

/**
 * Makes health checks cheap for `GET /health`: a result is reused for `ttlMs`, at most one check
 * runs at a time (callers meanwhile share it), and a check that takes longer than `timeoutMs`
 * reports unavailable. A check stuck past its timeout is not started again until it settles, so a
 * flood of `/health` calls against a slow backend costs one backend request, not one per call.
 */
export function cachedHealthCheck(
  check: () => Promise<unknown>,
  options: HealthCheckOptions = {},
): () => Promise<HealthResult> {
  const ttlMs = options.ttlMs ?? 2000;
  const timeoutMs = options.timeoutMs ?? HEALTH_TIMEOUT_MS;
  let last: { at: number; result: HealthResult } | undefined;
  let pending: Promise<HealthResult> | undefined;
  let running = false;

  const run = (): Promise<HealthResult> => {
    running = true;
    const checked = check().then(
      (details): HealthResult => ({ ok: true, details }),
      (error: unknown): HealthResult => ({ ok: false, error }),
    );
    void checked.finally(() => {
      running = false;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<HealthResult>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ok: false,
            error: new BackendTimeoutError(
              `The health check did not finish within ${timeoutMs / 1000} s; a backend is slow or stuck.`,
              "health",
            ),
          }),
        timeoutMs,
      );
    });
    return Promise.race([checked, timedOut]).then((result) => {
      clearTimeout(timer);
      last = { at: Date.now(), result };
      pending = undefined;
      return result;
    });
  };

  return () => {
    if (last && Date.now() - last.at < ttlMs) return Promise.resolve(last.result);
    if (pending) return pending;
    if (running && last) return Promise.resolve(last.result);
    pending = run();
    return pending;
  };
}
