import express, { type Express, type RequestHandler } from "express";
import type { MetricsPlugin } from "../plugins/metrics/index.js";

/** What the server needs from the metrics plugin. */
export type MetricsSource = Pick<
  MetricsPlugin,
  "contentType" | "metrics" | "recent" | "observeRoute" | "setLoadSource"
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

/**
 * A server with `GET /metrics` alone, for `herd serve --metrics-port`: Prometheus scrapes it on a
 * port of its own (bind it to a private interface), and the API port keeps its key.
 */
export function createMetricsApp(metrics: MetricsSource): Express {
  const app = express();
  app.disable("x-powered-by");
  app.get("/metrics", metricsHandler(metrics));
  app.use((_req, res) => {
    res.status(404).type("text/plain").send("Only GET /metrics is served on this port.\n");
  });
  return app;
}
