import type { Server } from "node:http";

/** Tracks a server's in-flight requests so it can stop accepting new ones and wait for the rest. */
export interface ShutdownTracker {
  /** Requests being answered right now. */
  readonly inFlight: number;
  /**
   * Stops accepting connections, closes idle keep-alive connections, waits for in-flight requests
   * (streams included) to finish, then closes what is left. Resolves true when everything finished
   * within `timeoutMs`, false when remaining connections had to be cut.
   */
  drain(timeoutMs: number): Promise<boolean>;
}

/**
 * Starts tracking `server`'s requests. While draining, responses carry `Connection: close` so
 * keep-alive clients reconnect elsewhere (another replica behind the load balancer).
 */
export function trackShutdown(server: Server): ShutdownTracker {
  let inFlight = 0;
  let draining = false;
  let onIdle: (() => void) | undefined;
  server.on("request", (_req, res) => {
    inFlight++;
    if (draining) res.setHeader("connection", "close");
    res.once("close", () => {
      inFlight--;
      if (draining) server.closeIdleConnections();
      if (inFlight === 0) onIdle?.();
    });
  });
  return {
    get inFlight() {
      return inFlight;
    },
    drain(timeoutMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const idle = new Promise<void>((resolve) => {
        if (inFlight === 0) resolve();
        else onIdle = resolve;
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref();
      });
      return Promise.race([idle.then(() => true as const), timeout]).then(async (finished) => {
        clearTimeout(timer);
        server.closeAllConnections();
        await closed;
        return finished;
      });
    },
  };
}
