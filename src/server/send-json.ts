import type { ServerResponse } from "node:http";

/**
 * Answers `body` as JSON with `status`, written directly: Express's `res.json` adds nothing Herd
 * uses (no ETag, no JSONP) and costs time on the hot route. `headers` (routing headers, say) are
 * sent with it.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  headers["content-type"] = "application/json; charset=utf-8";
  headers["content-length"] = String(Buffer.byteLength(text));
  res.writeHead(status, headers);
  res.end(text);
}
