import { ChromaClient, type Collection, type Metadata } from "chromadb";
import type { CentroidIndex, IndexEntry, IndexHit } from "../../core/centroid-index.js";
import { ConfigError, ProviderResponseError } from "../../core/errors.js";
import { type BackendTimeouts, resolveTimeouts } from "../../core/timeouts.js";
import { chromaCollectionName } from "./chroma-collection-name.js";
import { boundChromaCalls } from "./chroma-deadline.js";
import { isChromaNotFound, mapChromaError } from "./chroma-errors.js";
import { boundChromaReplies } from "./chroma-fetch.js";

/** Vector components per upsert request: about 10 MB of JSON, well under Chroma's body limit. */
const MAX_NUMBERS_PER_UPSERT = 500_000;

/** Settings of the Chroma centroid index. */
export interface ChromaIndexOptions {
  /** The Chroma server. A missing port means 8000 (http) or 443 (https). @default env CHROMA_URL, then "http://127.0.0.1:8000" */
  url?: string;
  /** @default env CHROMA_TENANT, then "default_tenant" */
  tenant?: string;
  /** @default env CHROMA_DATABASE, then "default_database" */
  database?: string;
  /** Prepended to every collection name, so Herd's collections are easy to tell apart. @default "herd-" */
  collectionPrefix?: string;
  /** Extra HTTP headers on every request, e.g. `{ "x-chroma-token": "..." }` for a server with token auth. @default none */
  headers?: Record<string, string>;
  /** Extra fetch settings for every request. @default none */
  fetchOptions?: RequestInit;
  /**
   * The fetch every Chroma call goes through (a proxy, tests); Herd bounds its replies either way
   * (REPLY_LIMITS.chroma, REPLY_LIMITS.chromaListing). @default the global `fetch`
   */
  fetch?: typeof fetch;
  /** Limits of Herd's backend calls (config `timeouts`): each Chroma call must finish within `firstByteMs`. @default DEFAULT_TIMEOUTS */
  timeouts?: Partial<BackendTimeouts>;
}

/** The largest n_results sent; any larger k (up to Infinity) means "all". */
const MAX_RESULTS = 2 ** 31 - 1;

/** Metadata key holding the expert name of a stored vector. */
const EXPERT_KEY = "herd.expert";

/**
 * A CentroidIndex backed by a Chroma server: one Chroma collection per Herd collection, cosine
 * space, vectors given explicitly (no Chroma embedding function). Several Herd replicas can share
 * one server, and experts can be added or removed while they run.
 *
 * @example
 * const index = new ChromaIndex({ url: "http://127.0.0.1:8000" });
 * await index.upsert("centroids-demo", [{ id: "code", expert: "code", vector }]);
 * const hits = await index.query("centroids-demo", promptVector, 3);
 */
export class ChromaIndex implements CentroidIndex {
  readonly kind = "chroma";
  /** The server's base URL, e.g. `http://127.0.0.1:8000`. */
  readonly url: string;
  private readonly client: ChromaClient;
  private readonly prefix: string;
  /** Collection handles by Chroma name; dropped when the server says the collection is gone. */
  private readonly collections = new Map<string, Promise<Collection>>();

  constructor(options: ChromaIndexOptions = {}) {
    const { url, host, port, ssl } = parseChromaUrl(
      options.url ?? process.env.CHROMA_URL ?? "http://127.0.0.1:8000",
    );
    this.url = url;
    this.prefix = options.collectionPrefix ?? "herd-";
    this.client = new ChromaClient({
      host,
      port,
      ssl,
      tenant: options.tenant ?? process.env.CHROMA_TENANT ?? "default_tenant",
      database: options.database ?? process.env.CHROMA_DATABASE ?? "default_database",
      headers: options.headers,
      fetchOptions: options.fetchOptions,
    });
    boundChromaCalls(this.client, resolveTimeouts(options.timeouts).firstByteMs);
    boundChromaReplies(this.client, this.url, options.fetch);
  }

  /** The Chroma collection name used for a Herd collection name. */
  collectionName(collection: string): string {
    return chromaCollectionName(collection, this.prefix);
  }

  async upsert(collection: string, entries: readonly IndexEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.withCollection(collection, "upserting into", true, async (handle) => {
      const max = await this.client.getMaxBatchSize();
      // Chroma also caps the request body (413 Payload Too Large): bound the numbers sent at once.
      const bySize = Math.max(1, Math.floor(MAX_NUMBERS_PER_UPSERT / (entries[0]?.vector.length || 1)));
      const batch = Math.min(max > 0 ? max : entries.length, bySize);
      for (let start = 0; start < entries.length; start += batch) {
        const chunk = entries.slice(start, start + batch);
        await handle.upsert({
          ids: chunk.map((entry) => entry.id),
          embeddings: chunk.map((entry) => Array.from(entry.vector)),
          metadatas: chunk.map((entry) => ({ ...entry.metadata, [EXPERT_KEY]: entry.expert })),
        });
      }
    });
  }

  async remove(collection: string, ids?: readonly string[]): Promise<void> {
    const name = this.collectionName(collection);
    if (!ids) {
      this.collections.delete(name);
      try {
        await this.client.deleteCollection({ name });
      } catch (error) {
        if (!isChromaNotFound(error)) throw mapChromaError(error, this.url, `dropping collection "${name}"`);
      }
      return;
    }
    if (ids.length === 0) return;
    await this.withCollection(collection, "removing from", false, (handle) =>
      handle.delete({ ids: [...ids] }),
    );
  }

  async query(collection: string, vector: Float32Array, k: number): Promise<IndexHit[]> {
    // Chroma takes n_results as a u32 and clamps it to the collection size itself.
    const n = Math.min(Math.floor(k), MAX_RESULTS);
    if (!(n >= 1)) return [];
    const result = await this.withCollection(collection, "querying", false, (handle) =>
      handle.query({
        queryEmbeddings: [Array.from(vector)],
        nResults: n,
        include: ["distances", "metadatas"],
      }),
    );
    if (!result) return [];
    const ids = result.ids[0] ?? [];
    const distances = result.distances[0] ?? [];
    const metadatas = result.metadatas[0] ?? [];
    return ids.map((id, i) => ({
      id,
      expert: this.expertOf(collection, id, metadatas[i]),
      distance: distances[i] ?? Number.NaN,
    }));
  }

  async list(collection: string): Promise<IndexEntry[]> {
    const result = await this.withCollection(collection, "listing", false, (handle) =>
      handle.get({ include: ["embeddings", "metadatas"] }),
    );
    if (!result) return [];
    return result.ids.map((id, i) => {
      const { [EXPERT_KEY]: _expert, ...rest } = result.metadatas[i] ?? {};
      const metadata = Object.fromEntries(
        Object.entries(rest).filter((pair): pair is [string, string | number | boolean] => isScalar(pair[1])),
      );
      const entry: IndexEntry = {
        id,
        expert: this.expertOf(collection, id, result.metadatas[i]),
        vector: Float32Array.from(result.embeddings[i] ?? []),
      };
      if (Object.keys(metadata).length > 0) entry.metadata = metadata;
      return entry;
    });
  }

  async health(): Promise<void> {
    try {
      await this.client.heartbeat();
    } catch (error) {
      throw mapChromaError(error, this.url, "answering the heartbeat");
    }
  }

  async close(): Promise<void> {
    this.collections.clear();
  }

  /**
   * Runs `operation` on the collection's handle. A collection that is missing gives `undefined`
   * (or is created when `create` is set); a handle that went stale because another process dropped
   * and recreated the collection is fetched again once.
   */
  private async withCollection<T>(
    collection: string,
    doing: string,
    create: boolean,
    operation: (handle: Collection) => Promise<T>,
  ): Promise<T | undefined> {
    const name = this.collectionName(collection);
    const where = `${doing} collection "${name}"`;
    for (let attempt = 0; ; attempt++) {
      const cached = this.collections.has(name);
      let handle: Collection;
      try {
        handle = await this.handle(name, create);
      } catch (error) {
        this.collections.delete(name);
        if (!create && isChromaNotFound(error)) return undefined;
        throw mapChromaError(error, this.url, where);
      }
      try {
        return await operation(handle);
      } catch (error) {
        if (cached && attempt === 0 && isChromaNotFound(error)) {
          this.collections.delete(name);
          continue;
        }
        throw mapChromaError(error, this.url, where);
      }
    }
  }

  private handle(name: string, create: boolean): Promise<Collection> {
    let pending = this.collections.get(name);
    if (!pending) {
      pending = (
        create
          ? this.client.getOrCreateCollection({
              name,
              embeddingFunction: null,
              configuration: { hnsw: { space: "cosine" } },
            })
          : this.client.getCollection({ name })
      ).then((handle) => {
        const space = handle.configuration?.hnsw?.space ?? handle.configuration?.spann?.space;
        if (space && space !== "cosine") {
          throw new ConfigError(
            `Chroma collection "${name}" at ${this.url} uses the "${space}" space; Herd needs "cosine". ` +
              "Drop the collection (or use another collectionPrefix) and index again.",
            "collectionPrefix",
          );
        }
        return handle;
      });
      this.collections.set(name, pending);
    }
    return pending;
  }

  private expertOf(collection: string, id: string, metadata: Metadata | null | undefined): string {
    const expert = metadata?.[EXPERT_KEY];
    if (typeof expert === "string") return expert;
    throw new ProviderResponseError(
      `Entry "${id}" of Chroma collection "${this.collectionName(collection)}" at ${this.url} has no "${EXPERT_KEY}" ` +
        "metadata, so it was not written by Herd. Drop the collection (or use another collectionPrefix) and index again.",
      undefined,
      this.url,
    );
  }
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/**
 * Splits a Chroma URL into the client's host, port and ssl. Accepts `127.0.0.1:8000` (http
 * assumed); a missing port means Chroma's 8000 for http and 443 for https.
 */
export function parseChromaUrl(value: string): { url: string; host: string; port: number; ssl: boolean } {
  const raw = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    throw new ConfigError(`Invalid Chroma URL "${value}": use e.g. http://127.0.0.1:8000.`, "chroma.url");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ConfigError(`Invalid Chroma URL "${value}": use an http:// or https:// URL.`, "chroma.url");
  }
  if (parsed.pathname !== "/" || parsed.search || parsed.hash) {
    throw new ConfigError(
      `Invalid Chroma URL "${value}": the chromadb client cannot use a path; give only scheme, host and port.`,
      "chroma.url",
    );
  }
  const ssl = parsed.protocol === "https:";
  // URL drops a port equal to the scheme's default (":80"), so read it from the text.
  const portText = /^[a-z]+:\/\/(?:[^/@]*@)?(?:\[[^\]]*\]|[^/:?#]*)(?::(\d+))?/i.exec(withScheme)?.[1];
  const port = portText ? Number(portText) : ssl ? 443 : 8000;
  return { url: `${parsed.protocol}//${parsed.hostname}:${port}`, host: parsed.hostname, port, ssl };
}
