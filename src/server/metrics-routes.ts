import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from "express";
import type { MetricsPlugin } from "../plugins/metrics/index.js";
import { createHostCheck } from "./host-check.js";
import { toOpenAIError } from "./openai-error.js";
import { requestChecksMiddleware } from "./request-check.js";

/** What the server needs from the metrics plugin. */
export type MetricsSource = Pick<
  MetricsPlugin,
  "contentType" | "metrics" | "recent" | "observeRoute" | "observeRouteFailure" | "setLoadSource"
>;

/** `GET /metrics`: every metric in Prometheus text format. */
export function metricsHandler(metrics: MetricsSource): RequestHandler {
  return async (_req, res) => {
    const text = await metrics.metrics();
    res.setHeader("content-type", metrics.contentType);
    res.setHeader("cache-control", "no-store");
    res.end(text);
  };
}

/** `GET /v1/route/recent`: the latest finished requests, newest first (the playground's live view). */
export function recentDecisionsHandler(metrics: MetricsSource): RequestHandler {
  return (_req, res) => {
    res.setHeader("cache-control", "no-store");
    res.json({ object: "list", data: metrics.recent() });
  };
}

/** Settings of the metrics-only app. */
export interface MetricsAppOptions {
  /**
   * Host names it answers for besides localhost and IP addresses (the API's `allowedHosts`):
   * it has no key, so the Host allow-list is what keeps DNS-rebinding web pages from reading it.
   * @default [] (local names only)
   */
  allowedHosts?: readonly string[];
}

/**
 * A server with `GET /metrics` alone, for `herd serve --metrics-port`: Prometheus scrapes it on a
 * port of its own (bind it to a private interface), and the API port keeps its key. It runs the
 * same Host allow-list as the API (403 for other names).
 */
export function createMetricsApp(metrics: MetricsSource, options: MetricsAppOptions = {}): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(requestChecksMiddleware([createHostCheck(options.allowedHosts ?? [])]));
  app.get("/metrics", metricsHandler(metrics));
  app.use((_req, res) => {
    res.status(404).type("text/plain").send("Only GET /metrics is served on this port.\n");
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const { status, body } = toOpenAIError(error);
    if (res.headersSent) res.end();
    else res.status(status).json(body);
  });
  return app;
}
