import { OriginNotAllowedError } from "./http-errors.js";
import type { RequestCheck } from "./request-check.js";

/** Response headers a browser page may read: Herd's routing headers and the OpenAI client's. */
const EXPOSED = [
  "x-request-id",
  "x-herd-model",
  "x-herd-experts",
  "x-herd-routing",
  "x-herd-route-ms",
  "x-herd-warning",
  "x-should-retry",
  "retry-after",
].join(", ");

/** How long a browser may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE = "600";

/** `https://App.example.com/` -> `https://app.example.com`. */
function normalizeOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, "");
}

/**
 * Opt-in CORS for browser clients. With no origins it does nothing (browsers then refuse to read
 * cross-origin answers, and JSON POSTs never leave them). With origins (`"*"` for any), a request
 * from an allowed origin gets `Access-Control-Allow-Origin` (the origin itself, so `Authorization`
 * works) and the routing headers exposed; its preflight (`OPTIONS`) is answered with 204 here; a
 * preflight from another origin gets 403.
 */
export function createCorsCheck(origins: readonly string[] = []): RequestCheck {
  const listed = origins.map(normalizeOrigin).filter((o) => o !== "");
  if (listed.length === 0) return () => undefined;
  const any = listed.includes("*");
  const allowed = new Set(listed);
  return (req, res) => {
    const origin = req.headers.origin;
    if (origin === undefined) return undefined;
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    res.setHeader("vary", "Origin");
    if (!any && !allowed.has(normalizeOrigin(origin))) {
      return preflight ? new OriginNotAllowedError(origin) : undefined;
    }
    res.setHeader("access-control-allow-origin", origin);
    if (!preflight) {
      res.setHeader("access-control-expose-headers", EXPOSED);
      return undefined;
    }
    res.setHeader("access-control-allow-methods", "GET, POST, OPTIONS");
    const asked = req.headers["access-control-request-headers"];
    // Header names only (tokens and commas), bounded: anything else is not echoed.
    if (asked !== undefined && asked.length <= 2000 && /^[\w\s,-]*$/.test(asked)) {
      res.setHeader("access-control-allow-headers", asked);
    }
    res.setHeader("access-control-max-age", PREFLIGHT_MAX_AGE);
    res.statusCode = 204;
    res.end();
    return "answered";
  };
}
