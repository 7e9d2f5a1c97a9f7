import type { ChromaClient } from "chromadb";
import { ERROR_TEXT_BYTES, limitResponse, REPLY_LIMITS, readUpTo } from "../http/reply-limits.js";
import { ChromaStatusError } from "./chroma-errors.js";

/** The part of the chromadb client's (private) HTTP client that takes the fetch it calls. */
interface ConfigurableClient {
  apiClient?: { setConfig?(config: { fetch: (request: Request) => Promise<Response> }): unknown };
}

/** A collection listing: `POST .../collections/{id}/get`, the one reply that carries every vector. */
const LISTING_PATH = /\/collections\/[^/]+\/get$/;

/**
 * Bounds every reply a chromadb client reads: its generated HTTP client calls the fetch given here
 * instead of the library's own, which reads replies whole, error bodies included. A reply past its
 * limit (REPLY_LIMITS.chromaListing for a collection listing, REPLY_LIMITS.chroma for any other) is
 * refused or cut, closing the connection, and fails with ReplyTooLargeError naming `url` and the
 * limit; an error status becomes a ChromaStatusError with the server's message (read up to 64 KiB),
 * which mapChromaError maps like the library's errors. Returns false when this client version takes
 * no fetch (then replies are read unbounded by the library's own fetch).
 */
export function boundChromaReplies(client: ChromaClient, url: string, fetchFn?: typeof fetch): boolean {
  const api = (client as unknown as ConfigurableClient).apiClient;
  if (typeof api?.setConfig !== "function") return false;
  api.setConfig({ fetch: (request) => chromaFetch(request, url, fetchFn ?? globalThis.fetch) });
  return true;
}

async function chromaFetch(request: Request, url: string, fetchFn: typeof fetch): Promise<Response> {
  const response = await fetchFn(request);
  if (!response.ok) throw await statusError(response);
  const path = new URL(request.url).pathname;
  const limit = LISTING_PATH.test(path) ? REPLY_LIMITS.chromaListing : REPLY_LIMITS.chroma;
  return limitResponse(response, { service: "Chroma", baseUrl: url, path }, limit);
}

/** The error for a reply with an error status: Chroma's `{ error, message }`, or the status text. */
async function statusError(response: Response): Promise<ChromaStatusError> {
  const text = response.body ? (await readUpTo(response.body, ERROR_TEXT_BYTES)).bytes.toString("utf8") : "";
  let message = "";
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown };
    message = [body.message, body.error].find((m): m is string => typeof m === "string" && m !== "") ?? "";
  } catch {
    // not JSON (a proxy's error page, a cut body): the status says enough
  }
  return new ChromaStatusError(response.status, message || `${response.status}: ${response.statusText}`);
}
