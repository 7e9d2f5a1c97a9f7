import type { HerdRoutingInfo } from "../core/routing-info.js";

/**
 * The routing response headers: `x-herd-model`, `x-herd-experts` (`name=weight` pairs, or `none`
 * when the base model answered), `x-herd-routing` (the reason), `x-herd-route-ms`,
 * `x-request-id` (read by OpenAI clients as the request id), and `x-herd-warning` when there are warnings. Values are reduced to printable
 * ASCII so no input can break a header.
 */
export function routingHeaders(info: HerdRoutingInfo): Record<string, string> {
  const headers: Record<string, string> = {
    "x-request-id": headerValue(info.requestId),
    "x-herd-model": headerValue(info.model),
    "x-herd-experts":
      info.experts.length === 0
        ? "none"
        : headerValue(info.experts.map((e) => `${e.name}=${e.weight.toFixed(3)}`).join(",")),
    "x-herd-routing": headerValue(info.reason),
    "x-herd-route-ms": info.timings.totalMs.toFixed(3),
  };
  if (info.warnings.length > 0) headers["x-herd-warning"] = headerValue(info.warnings.join(" | "));
  return headers;
}

/** Printable ASCII only, at most 2,000 characters: safe for any HTTP header. */
export function headerValue(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 2000 ? `${clean.slice(0, 1997)}...` : clean;
}
