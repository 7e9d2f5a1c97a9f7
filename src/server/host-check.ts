import { isIP } from "node:net";
import { HostNotAllowedError } from "./http-errors.js";
import type { RequestCheck } from "./request-check.js";

/** The names a local server always answers for. */
export const LOCAL_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

/**
 * The host name of a Host header or allow-list entry: lower-case, without the port or a trailing
 * dot; an IPv6 address in brackets (`[::1]`).
 */
export function normalizeHost(value: string): string {
  let host = value.trim().toLowerCase();
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    host = end === -1 ? host : host.slice(0, end + 1);
  } else if (host.split(":").length > 2) {
    host = `[${host}]`; // a bare IPv6 address in a setting
  } else {
    host = host.split(":", 1)[0]!;
  }
  return host.endsWith(".") ? host.slice(0, -1) : host;
}

/** True for an IP address (`10.0.0.5`, `[fd00::1]`) as `normalizeHost` gives it: no name to rebind. */
function isAddress(host: string): boolean {
  return isIP(host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host) !== 0;
}

/**
 * Refuses (403) requests whose Host header is a name other than localhost or one of
 * `allowedHosts`: a web page that rebinds its own domain name to 127.0.0.1 (DNS rebinding) sends
 * its domain as Host and is turned away. IP addresses are always answered: a page can only send
 * one as Host when it was itself loaded from that address and port, and health checks and
 * Prometheus (Kubernetes probes, pod-IP scraping) reach servers by address. `"*"` allows any host.
 * A request without a Host header (HTTP/1.0 tools) is let through: browsers always send one.
 */
export function createHostCheck(allowedHosts: readonly string[] = []): RequestCheck {
  const names = allowedHosts.map((h) => h.trim()).filter((h) => h !== "");
  if (names.includes("*")) return () => undefined;
  const allowed = [...new Set([...LOCAL_HOSTS, ...names.map(normalizeHost)])];
  const set = new Set(allowed);
  return (req) => {
    const header = req.headers.host;
    if (header === undefined || header === "") return undefined;
    const host = normalizeHost(header);
    return set.has(host) || isAddress(host) ? undefined : new HostNotAllowedError(header, allowed);
  };
}
