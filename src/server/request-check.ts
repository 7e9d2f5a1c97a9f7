import type { IncomingMessage, ServerResponse } from "node:http";
import type { NextFunction, Request, Response } from "express";
import type { HerdError } from "../core/errors.js";
import { createJsonContentTypeCheck } from "./content-type-check.js";
import { createCorsCheck } from "./cors.js";
import { createHostCheck } from "./host-check.js";

/**
 * What a request check decided: `undefined` lets the request through, a HerdError refuses it (send
 * it with `toOpenAIError`), `"answered"` means the check has already sent the response (a CORS preflight).
 */
export type RequestCheckResult = HerdError | "answered" | undefined;

/**
 * A check that every request passes before its route. Plain Node types, so a handler outside
 * Express (a raw `http` handler) runs the same checks as the app.
 */
export type RequestCheck = (req: IncomingMessage, res: ServerResponse) => RequestCheckResult;

/** Settings of the checks every request of `herd serve` passes. */
export interface RequestCheckOptions {
  /**
   * Host names (Host header, port ignored) the server answers for besides localhost and IP
   * addresses; `"*"` allows any. Other names get 403, which stops DNS-rebinding web pages.
   * @default [] (local names only)
   */
  allowedHosts?: readonly string[];
  /**
   * Web page origins allowed to call the API from a browser (CORS), e.g. `"http://localhost:3000"`;
   * `"*"` allows any. @default [] (no CORS headers, preflights refused)
   */
  cors?: readonly string[];
}

/**
 * The checks of `herd serve`, in order: the Host allow-list, CORS (answers preflights), and JSON
 * bodies on POST (415 otherwise, so a browser cannot send a body without a CORS preflight).
 */
export function serverRequestChecks(options: RequestCheckOptions = {}): RequestCheck[] {
  return [
    createHostCheck(options.allowedHosts ?? []),
    createCorsCheck(options.cors ?? []),
    createJsonContentTypeCheck(),
  ];
}

/** Runs checks in order; the first one that refuses or answers decides. */
export function runRequestChecks(
  checks: readonly RequestCheck[],
  req: IncomingMessage,
  res: ServerResponse,
): RequestCheckResult {
  for (const check of checks) {
    const result = check(req, res);
    if (result !== undefined) return result;
  }
  return undefined;
}

/** Express middleware running the checks: a refusal goes to the app's error handler. */
export function requestChecksMiddleware(checks: readonly RequestCheck[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const result = runRequestChecks(checks, req, res);
    if (result === "answered") return;
    next(result);
  };
}
