import type { ChromaClient } from "chromadb";

/** The part of the chromadb client's (private) HTTP client that Herd hooks into. */
interface InterceptableClient {
  apiClient?: { interceptors?: { request?: { use(fn: (request: Request) => Request): void } } };
}

/**
 * Bounds every HTTP call of a chromadb client: each request gets a signal that aborts it after
 * `ms`, so a Chroma server that accepts the connection and then stalls cannot hang routing or
 * `/health`. The chromadb 3.5 client takes no per-call signal, so the bound goes in through its
 * request interceptors (its replies are bounded by Herd's fetch, see boundChromaReplies). Returns false when this client version
 * has no interceptors (then only undici's own 300 s limits apply).
 */
export function boundChromaCalls(client: ChromaClient, ms: number): boolean {
  const interceptors = (client as unknown as InterceptableClient).apiClient?.interceptors?.request;
  if (!interceptors) return false;
  interceptors.use((request) => new Request(request, { signal: AbortSignal.timeout(ms) }));
  return true;
}
