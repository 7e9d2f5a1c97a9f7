import { fileURLToPath } from "node:url";
import express, { type Router } from "express";

/** Where the playground's static files are: src/server/ui, copied to dist/server/ui by the build. */
export const PLAYGROUND_DIR = fileURLToPath(new URL("./ui/", import.meta.url));

/**
 * The strict policy of the playground: its own scripts, styles and API only; no inline code, no
 * framing, no other origins.
 */
export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The routing playground: `GET /` is the page, `/ui/*` its script and stylesheet. Static files with
 * their content types (express.static), a strict Content-Security-Policy and no-sniffing on all of them.
 */
export function playgroundRouter(dir: string = PLAYGROUND_DIR): Router {
  const router = express.Router();
  const headers = (res: { setHeader(name: string, value: string): unknown }) => {
    res.setHeader("content-security-policy", PLAYGROUND_CSP);
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "no-referrer");
    res.setHeader("cache-control", "no-cache");
  };
  router.get("/", (_req, res, next) => {
    headers(res);
    res.sendFile("index.html", { root: dir }, (error) => {
      if (error) next(error);
    });
  });
  router.use(
    "/ui",
    express.static(dir, { index: false, redirect: false, fallthrough: true, setHeaders: headers }),
  );
  return router;
}
