import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProviderResponseError } from "../../../src/core/errors.js";
import { CHROMA_LISTING_BYTES, REPLY_LIMITS } from "../../../src/providers/http/reply-limits.js";
import { ChromaIndex } from "../../../src/providers/indexes/chroma.js";
import { chromaFixture, FIXTURE_COLLECTION_ID } from "../../helpers/chroma-mock.js";
import { lazyJson, sendCounting, tooLarge } from "../../helpers/oversize-reply.js";

/**
 * What Herd reads from Chroma is bounded like every other backend reply: a loopback server posing
 * as Chroma answers the collection lookup normally and then an oversize reply; the index fails with
 * ReplyTooLargeError naming Chroma's URL and the limit, and the server sees the connection close
 * long before it could send the rest.
 */

const MiB = 1024 * 1024;

/** How the next heartbeat or record call (query, get) is answered. */
interface Plan {
  route: "heartbeat" | "records";
  status: number;
  /** Total bytes offered, produced as they are read. */
  bytes: number;
  /** Announced as the content length instead of sending a chunked reply. */
  declare?: boolean;
  /** A complete reply to send instead of the offered bytes. */
  body?: string;
}

let plan: Plan | undefined;
/** Resolves, when the planned reply's connection closes, with the bytes produced (Infinity if all were sent). */
let closedEarly: Promise<number>;
let server: http.Server;
let base = "";
const COLLECTION = "/api/v2/tenants/default_tenant/databases/default_database/collections";

/** A query reply `{"ids":[["xxx...` of `bytes` bytes, produced as it is read. */
function lazyBody(bytes: number): Readable {
  return lazyJson('{"ids":[["', '"]],"metadatas":[[{"herd.expert":"code"}]],"distances":[[0.1]]}', bytes);
}

function answer(res: http.ServerResponse, current: Plan): void {
  const body = current.body === undefined ? lazyBody(current.bytes) : Readable.from([current.body]);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (current.declare) headers["content-length"] = String(current.bytes);
  res.writeHead(current.status, headers);
  closedEarly = sendCounting(res, body);
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const path = req.url ?? "";
      const json = (text: string) => res.writeHead(200, { "content-type": "application/json" }).end(text);
      if (path === "/api/v2/heartbeat" && plan?.route === "heartbeat") answer(res, plan);
      else if (path === "/api/v2/heartbeat") json(chromaFixture("heartbeat"));
      else if (path === "/api/v2/pre-flight-checks") json(chromaFixture("pre-flight-checks"));
      else if (path === `${COLLECTION}/herd-x`) json(chromaFixture("collection"));
      else if (
        /\/(query|get)$/.test(path) &&
        path.includes(FIXTURE_COLLECTION_ID) &&
        plan?.route === "records"
      )
        answer(res, plan);
      else res.writeHead(404, { "content-type": "application/json" }).end('{"error":"NotFound"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const query = (index = new ChromaIndex({ url: base })) => index.query("x", Float32Array.from([1, 0, 0]), 3);

/** A real `get` reply of `entries` vectors of `dimension` numbers, as Chroma writes them. */
function listingReply(entries: number, dimension: number): string {
  const row = `[${Array.from({ length: dimension }, (_, i) => Math.fround(Math.sin(i + 1) / 10)).join(",")}]`;
  const ids = Array.from({ length: entries }, (_, i) => `e${i}`);
  return (
    `{"ids":${JSON.stringify(ids)},"embeddings":[${ids.map(() => row).join(",")}],"documents":null,"uris":null,` +
    `"metadatas":${JSON.stringify(ids.map((id) => ({ "herd.expert": id })))},"include":["embeddings","metadatas"]}`
  );
}

describe("ChromaIndex bounds what it reads from Chroma", () => {
  it("a query reply past 16 MiB fails naming Chroma's URL and the limit, and the connection is closed", async () => {
    plan = { route: "records", status: 200, bytes: 256 * MiB };
    const error = await tooLarge(() => query());
    expect(error.message).toContain(
      `Chroma at ${base} sent a reply to ${COLLECTION}/${FIXTURE_COLLECTION_ID}/query`,
    );
    expect(error.message).toContain("larger than 16 MiB, Herd's limit for a Chroma reply");
    expect(error.message).toContain("--chroma-url");
    expect(error).toMatchObject({ code: "reply_too_large", status: 502, isRetryable: false, url: base });
    expect(error.limit).toBe(REPLY_LIMITS.chroma.bytes);
    const offered = await closedEarly;
    expect(offered).toBeGreaterThan(0);
    expect(offered).toBeLessThan(64 * MiB);
  });

  it("a query reply announcing a size past the limit fails before its body is read", async () => {
    plan = { route: "records", status: 200, bytes: 512 * MiB, declare: true };
    const error = await tooLarge(() => query());
    expect(error.message).toContain("larger than 16 MiB (it announced 512 MiB)");
    expect(await closedEarly).toBeLessThan(64 * MiB);
  });

  it("the heartbeat (health) is bounded too", async () => {
    plan = { route: "heartbeat", status: 200, bytes: 256 * MiB };
    const error = await tooLarge(() => new ChromaIndex({ url: base }).health());
    expect(error.message).toContain(`Chroma at ${base} sent a reply to /api/v2/heartbeat larger than 16 MiB`);
    expect(await closedEarly).toBeLessThan(64 * MiB);
  });

  it("a collection listing with vectors gets its own, larger limit: read under it, cut past it", async () => {
    // 400 centroids of 4,096 dimensions: over the 16 MiB of other replies, under the listing's 80 MiB.
    const body = listingReply(400, 4096);
    expect(body.length).toBeGreaterThan(REPLY_LIMITS.chroma.bytes);
    plan = { route: "records", status: 200, bytes: body.length, body };
    const index = new ChromaIndex({ url: base });
    const entries = await index.list("x");
    expect(entries).toHaveLength(400);
    expect(entries[399]?.vector).toHaveLength(4096);

    plan = { route: "records", status: 200, bytes: 512 * MiB };
    const error = await tooLarge(() => index.list("x"));
    expect(error.message).toContain(`${COLLECTION}/${FIXTURE_COLLECTION_ID}/get larger than 80 MiB`);
    expect(error.limit).toBe(CHROMA_LISTING_BYTES);
    expect(await closedEarly).toBeLessThan(160 * MiB);
  });

  it("an error reply keeps the start of its body and closes the connection", async () => {
    plan = { route: "records", status: 500, bytes: 256 * MiB };
    const error = await query().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect(error).toMatchObject({ providerStatus: 500, url: base });
    expect((error as Error).message).toBe(
      `Chroma at ${base} failed querying collection "herd-x" (HTTP 500): 500: Internal Server Error`,
    );
    expect(await closedEarly).toBeLessThan(64 * MiB);
  });

  it("the same bounds hold through an injected fetch", async () => {
    plan = { route: "records", status: 200, bytes: 256 * MiB };
    const urls: string[] = [];
    const index = new ChromaIndex({
      url: base,
      fetch: (input, init) => {
        urls.push(input instanceof Request ? input.url : String(input));
        return fetch(input, init);
      },
    });
    const error = await tooLarge(() => query(index));
    expect(error.message).toContain("larger than 16 MiB");
    expect(urls.at(-1)).toBe(`${base}${COLLECTION}/${FIXTURE_COLLECTION_ID}/query`);
    expect(await closedEarly).toBeLessThan(64 * MiB);
  });
});
