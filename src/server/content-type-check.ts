import { UnsupportedMediaTypeError } from "./http-errors.js";
import type { RequestCheck } from "./request-check.js";

/**
 * A POST must declare a JSON body (`Content-Type: application/json`, parameters such as
 * `charset=utf-8` allowed), or it gets 415. Browsers send `text/plain` and form bodies cross-origin
 * without asking first; JSON needs a CORS preflight, which only `--cors` origins pass.
 */
export function createJsonContentTypeCheck(): RequestCheck {
  return (req) => {
    if (req.method !== "POST") return undefined;
    const header = req.headers["content-type"];
    const type = header === undefined ? undefined : (header.split(";", 1)[0] ?? "").trim().toLowerCase();
    return type === "application/json" ? undefined : new UnsupportedMediaTypeError(header);
  };
}
