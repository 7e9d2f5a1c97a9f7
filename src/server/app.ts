import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { errorMessage, HerdError } from "../core/errors.js";
import { EXPERTS_RELOAD_PATH, expertsReloadHandler } from "./admin-experts.js";
import { bearerAuth } from "./auth.js";
import { CHAT_ROUTE, chatCompletionsHandler } from "./chat-completions.js";
import { cachedHealthCheck, type HealthCheckOptions } from "./health.js";
import { RouteNotFoundError, UnknownModelError } from "./http-errors.js";
import { type MetricsSource, metricsHandler, recentDecisionsHandler } from "./metrics-routes.js";
import { servedModels } from "./models.js";
import { toOpenAIError } from "./openai-error.js";
import { playgroundRouter } from "./playground.js";
import { type RequestCheckOptions, runRequestChecks, serverRequestChecks } from "./request-check.js";
import { routeHandler } from "./route-endpoint.js";
import { sendJson } from "./send-json.js";
import type { ServedHerd } from "./served-herd.js";

/** Settings of the OpenAI-compatible facade. */
export interface AppOptions extends RequestCheckOptions {
  /** When set, every `/v1` request must send `Authorization: Bearer <apiKey>`. @default undefined (open) */
  apiKey?: string;
  /** The largest request body accepted, in bytes; larger ones get 413. @default 4 MiB */
  bodyLimit?: number;
  /** Serve the base model only: no routing, experts are not offered (`herd serve --only-base`). @default false */
  onlyBase?: boolean;
  /**
   * The metrics plugin of this Herd: `GET /v1/route/recent` lists its latest decisions, and
   * `GET /metrics` (behind `apiKey` when set) answers in Prometheus text format. @default undefined (no metrics)
   */
  metrics?: MetricsSource;
  /** Serve `GET /metrics` on this app; false when it has a port of its own (`--metrics-port`). @default true */
  metricsEndpoint?: boolean;
  /** Serve the routing playground page at `/` (`herd serve --no-ui` turns it off). @default true */
  ui?: boolean;
  /** How `GET /health` caches and bounds its checks. @default { ttlMs: 2000, timeoutMs: 5000 } */
  health?: HealthCheckOptions;
  /** Where server-side failures are reported (a 5xx, an error after a stream started). @default console */
  logger?: Pick<Console, "error">;
}

const IDLE = { running: 0, queued: 0 };

/** The default body limit: 4 MiB, room for long conversations, small enough to refuse floods. */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * Builds the Express app of `herd serve`: an OpenAI-compatible API over a Herd. It does not listen;
 * the CLI (or a test) does.
 *
 * - `POST /v1/chat/completions`: routed chat completions, JSON or server-sent events
 * - `GET /v1/models`, `GET /v1/models/:id`: `herd`, `herd:<expert>` per expert, the base model
 * - `POST /v1/route`: the routing decision alone
 * - `POST /admin/experts/reload`: re-reads experts.json without a restart (needs `apiKey`)
 * - `GET /health`: checks the backend and the index (open even with an API key, for load balancers;
 *   then only authenticated callers get details). Cached for 2 s, one check at a time, 5 s bound.
 * - `GET /`: the routing playground page (unless `ui: false`)
 * - `GET /metrics`, `GET /v1/route/recent`: Prometheus metrics and recent decisions (with `metrics`)
 *
 * Every request first passes `serverRequestChecks`: the Host allow-list (`allowedHosts`), CORS
 * (`cors`) and JSON bodies on POST.
 *
 * @example
 * const herd = await createHerd({ provider: { name: "ollama" } });
 * createApp(herd, { apiKey: process.env.HERD_API_KEY }).listen(8000, "127.0.0.1");
 */
export function createApp(herd: ServedHerd, options: AppOptions = {}): Express {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const onlyBase = options.onlyBase ?? false;
  const logger = options.logger ?? console;
  const created = Math.floor(Date.now() / 1000);

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  const checks = serverRequestChecks(options);
  const auth = options.apiKey !== undefined && options.apiKey !== "" ? bearerAuth(options.apiKey) : undefined;
  // What every request passes first, on both paths (Express and the plain chat route below): a
  // request id on every response, errors included (OpenAI SDKs show it as `requestID`; a chat
  // completion reports the same id in its `herd` object and logs), then the request checks.
  // Returns false when a check answered itself (a CORS preflight); throws when a check refuses.
  const front = (req: IncomingMessage, res: ServerResponse): boolean => {
    res.setHeader("x-request-id", `req_${randomUUID().replaceAll("-", "")}`);
    const result = runRequestChecks(checks, req, res);
    if (result === "answered") return false;
    if (result !== undefined) throw result;
    return true;
  };
  app.use((req, res, next) => {
    if (front(req, res)) next();
  });
  const health = cachedHealthCheck(() => herd.health(), options.health);
  app.get("/health", async (req, res) => {
    const result = await health();
    // With an API key, only authenticated callers see the details (backend addresses, errors).
    const detailed = !auth || isAuthorized(auth, req);
    if (result.ok) {
      res.json(detailed && isRecord(result.details) ? { status: "ok", ...result.details } : { status: "ok" });
      return;
    }
    const { status, body } = toOpenAIError(result.error);
    res
      .status(status >= 500 ? status : 503)
      .json(detailed ? { status: "unavailable", ...body } : { status: "unavailable" });
  });

  // The page itself holds no data: it asks for the key and sends it with every API call.
  if (options.ui ?? true) app.use(playgroundRouter());

  const metrics = options.metrics;
  if (metrics && herd.load !== undefined) metrics.setLoadSource(() => herd.load ?? IDLE);
  if (auth) {
    const guard = (req: Request, _res: Response, next: NextFunction) => {
      auth(req);
      next();
    };
    app.use("/v1", guard);
    app.use("/metrics", guard);
  }
  if (metrics && (options.metricsEndpoint ?? true)) app.get("/metrics", metricsHandler(metrics));
  if (metrics) app.get("/v1/route/recent", recentDecisionsHandler(metrics));

  const chat = chatCompletionsHandler(herd, { bodyLimit, onlyBase, onStreamError: report });
  // Spellings Express also matches (a trailing slash, other letter case) come this way; the exact
  // path is served before Express, below.
  app.post(CHAT_ROUTE, chat);
  app.post(
    "/v1/route",
    routeHandler(herd, {
      bodyLimit,
      onlyBase,
      onDecision: metrics ? (decision) => metrics.observeRoute("/v1/route", decision) : undefined,
      onFailure: metrics ? (error) => metrics.observeRouteFailure("/v1/route", error) : undefined,
    }),
  );
  app.post(EXPERTS_RELOAD_PATH, expertsReloadHandler(herd, options.apiKey));

  const model = (id: string) => ({ id, object: "model", created, owned_by: "herd" });
  app.get("/v1/models", (_req, res) => {
    res.json({ object: "list", data: servedModels(herd, onlyBase).map(model) });
  });
  app.get("/v1/models/{*id}", (req, res) => {
    const id = ([] as string[]).concat(req.params.id ?? []).join("/");
    const served = servedModels(herd, onlyBase);
    if (!served.includes(id)) throw new UnknownModelError(id, served);
    res.json(model(id));
  });

  app.use((req, _res, next) => next(new RouteNotFoundError(req.method, req.path.slice(0, 200))));

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => sendError(res, error));

  // POST /v1/chat/completions, the route every completion takes, is answered before Express: its
  // router and the request/response prototypes it swaps in cost about as much CPU as the rest of
  // the request (bench/facade.ts). It passes the same `front` checks and API key, and its errors
  // get the same answer as the app's; every other request, this path's other spellings included,
  // goes through Express as before.
  // An Express app, called as a request listener (or mounted), runs `app.handle` (express/lib/express.js):
  // the plain route is put in front of it there, so `listen`, mounting and every test take it.
  const dispatch = app as unknown as { handle: RequestListener };
  const handle = dispatch.handle.bind(app);
  dispatch.handle = (req, res, next) => {
    if (req.method !== "POST" || !isPath(req.url, CHAT_ROUTE)) return handle(req, res, next);
    try {
      if (!front(req, res)) return;
      auth?.(req);
    } catch (error) {
      sendError(res, error);
      return;
    }
    chat(req, res).catch((error: unknown) => sendError(res, error));
  };

  /** Answers `error` as an OpenAI error (or ends a response that has started). */
  function sendError(res: ServerResponse, error: unknown): void {
    const { status, body } = toOpenAIError(error);
    if (status >= 500) report(error);
    if (res.headersSent) {
      res.end();
      return;
    }
    // Overloaded or unreachable backends may recover: tell clients (the openai SDK honours it) when to retry.
    if (HerdError.isInstance(error)) {
      if (error.isRetryable && status >= 500) res.setHeader("retry-after", "1");
      // The openai SDK retries 408/409/429/5xx unless told otherwise: say what Herd knows.
      res.setHeader("x-should-retry", error.isRetryable ? "true" : "false");
    }
    sendJson(res, status, body);
  }

  function report(error: unknown): void {
    logger.error(`herd serve: ${errorMessage(error)}`);
  }

  return app;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/** Whether a request URL's path (before any query string) is exactly `path`. */
function isPath(url: string | undefined, path: string): boolean {
  if (url === undefined || !url.startsWith(path)) return false;
  return url.length === path.length || url.charCodeAt(path.length) === 63; // "?"
}

function isAuthorized(auth: (req: Request) => void, req: Request): boolean {
  try {
    auth(req);
    return true;
  } catch {
    return false;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
