import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ConfigError,
  DimensionMismatchError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../../src/core/errors.js";
import { ChromaIndex, parseChromaUrl } from "../../../src/providers/indexes/chroma.js";
import {
  CHROMA_MOCK_URL,
  chromaBaseHandlers,
  chromaFixture,
  chromaReply,
  chromaRoutes,
  FIXTURE_COLLECTION_ID,
} from "../../helpers/chroma-mock.js";

const server = setupServer(...chromaBaseHandlers);
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

/** The recorded collection, optionally with another id or distance space. */
function collectionReply(change: { id?: string; space?: string } = {}) {
  let body = chromaFixture("collection");
  if (change.id) body = body.replaceAll(FIXTURE_COLLECTION_ID, change.id);
  if (change.space) body = body.replaceAll('"space":"cosine"', `"space":"${change.space}"`);
  return new HttpResponse(body, { headers: { "content-type": "application/json" } });
}

/** Float32 vectors from the chromadb client's base64 encoding (little-endian float32). */
function decodeEmbedding(base64: string): number[] {
  const bytes = Buffer.from(base64, "base64");
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
}

const index = () => new ChromaIndex({ url: CHROMA_MOCK_URL });
const unit = Float32Array.from([1, 0, 0]);

describe("ChromaIndex against the Chroma HTTP API", () => {
  it("creates a cosine collection without an embedding function and upserts ids, vectors and expert metadata", async () => {
    const bodies: Record<string, unknown>[] = [];
    server.use(
      http.post(chromaRoutes.collections, async ({ request }) => {
        bodies.push((await request.json()) as Record<string, unknown>);
        return collectionReply();
      }),
      http.post(chromaRoutes.records(FIXTURE_COLLECTION_ID, "upsert"), async ({ request }) => {
        bodies.push((await request.json()) as Record<string, unknown>);
        return HttpResponse.json({});
      }),
    );
    await index().upsert("centroids-ollama:nomic", [
      {
        id: "code",
        expert: "code",
        vector: Float32Array.from([1, 0, 0]),
        metadata: { description: "Writes code" },
      },
      { id: "maths", expert: "maths", vector: Float32Array.from([0.6, 0.8, 0]) },
    ]);
    const [create, upsert] = bodies as [Record<string, unknown>, Record<string, string[] & unknown[]>];
    expect(create).toMatchObject({
      name: expect.stringMatching(/^herd-centroids-ollama-nomic-[0-9a-f]{8}$/),
      get_or_create: true,
      configuration: { hnsw: { space: "cosine" } },
    });
    // No default (server-side) embedding function: Herd always sends vectors.
    expect((create.configuration as Record<string, unknown>).embedding_function ?? null).toBeNull();
    expect(upsert.ids).toEqual(["code", "maths"]);
    expect(upsert.metadatas).toEqual([
      { description: "Writes code", "herd.expert": "code" },
      { "herd.expert": "maths" },
    ]);
    expect((upsert.embeddings as string[]).map(decodeEmbedding)).toEqual([
      [1, 0, 0],
      [Math.fround(0.6), Math.fround(0.8), 0],
    ]);
  });

  it("turns a query result into hits, nearest first, with the expert from the metadata", async () => {
    let queried: Record<string, unknown> | undefined;
    server.use(
      http.get(chromaRoutes.collection("herd-centroids"), () => collectionReply()),
      http.post(chromaRoutes.records(FIXTURE_COLLECTION_ID, "query"), async ({ request }) => {
        queried = (await request.json()) as Record<string, unknown>;
        return chromaReply("query");
      }),
    );
    expect(await index().query("centroids", unit, 5)).toEqual([
      { id: "code", expert: "code", distance: 0 },
      { id: "maths", expert: "maths", distance: 0.39999998 },
    ]);
    expect(queried).toMatchObject({ n_results: 5, query_embeddings: [[1, 0, 0]] });
  });

  it("lists entries with their vectors and metadata, without the internal expert key", async () => {
    server.use(
      http.get(chromaRoutes.collection("herd-centroids"), () => collectionReply()),
      http.post(chromaRoutes.records(FIXTURE_COLLECTION_ID, "get"), () => chromaReply("get")),
    );
    expect(await index().list("centroids")).toEqual([
      {
        id: "code",
        expert: "code",
        vector: Float32Array.from([1, 0, 0]),
        metadata: { description: "Writes code" },
      },
      { id: "maths", expert: "maths", vector: Float32Array.from([0.6, 0.8, 0]) },
    ]);
  });

  it("answers [] for a missing collection without querying", async () => {
    server.use(
      http.get(chromaRoutes.collection("herd-nothing"), () => chromaReply("collection-not-found", 404)),
    );
    expect(await index().query("nothing", unit, 3)).toEqual([]);
    expect(await index().list("nothing")).toEqual([]);
    expect(await index().query("anything", unit, 0)).toEqual([]);
  });

  it("fetches the collection again when another process dropped and recreated it", async () => {
    const fresh = "11111111-2222-4333-8444-555555555555";
    let gets = 0;
    server.use(
      http.get(chromaRoutes.collection("herd-centroids"), () =>
        gets++ === 0 ? collectionReply() : collectionReply({ id: fresh }),
      ),
      http.post(chromaRoutes.records(FIXTURE_COLLECTION_ID, "query"), () => chromaReply("query")),
    );
    const shared = index();
    expect(await shared.query("centroids", unit, 1)).toHaveLength(2);
    server.use(
      http.post(chromaRoutes.records(FIXTURE_COLLECTION_ID, "query"), () =>
        chromaReply("collection-not-found", 404),
      ),
      http.post(chromaRoutes.records(fresh, "query"), () => chromaReply("query")),
    );
    expect((await shared.query("centroids", unit, 1)).map((hit) => hit.id)).toEqual(["code", "maths"]);
    expect(gets).toBe(2);
  });

  it("names the URL and the fix when Chroma cannot be reached", async () => {
    server.use(http.get(chromaRoutes.heartbeat, () => HttpResponse.error()));
    const error = await index()
      .health()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as ProviderUnavailableError).message).toBe(
      `Cannot reach Chroma at ${CHROMA_MOCK_URL}. Start Chroma with \`npx chroma run --path ./chroma-data\` or pass --chroma-url.`,
    );
    expect(error).toMatchObject({ url: CHROMA_MOCK_URL, status: 503, isRetryable: true });
  });

  it("maps Chroma's dimension error to DimensionMismatchError", async () => {
    server.use(
      http.get(chromaRoutes.collection("herd-centroids"), () => collectionReply()),
      http.post(chromaRoutes.records(FIXTURE_COLLECTION_ID, "query"), () =>
        chromaReply("dimension-mismatch", 400),
      ),
    );
    const error = await index()
      .query("centroids", Float32Array.from([1, 0]), 1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DimensionMismatchError);
    expect((error as Error).message).toMatch(/dimension 3, got 2.*own collection/);
  });

  it("maps other replies to ProviderResponseError with the server's status and message", async () => {
    server.use(http.post(chromaRoutes.collections, () => chromaReply("invalid-name", 400)));
    const rejected = await index()
      .upsert("x", [{ id: "a", expert: "a", vector: unit }])
      .catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(ProviderResponseError);
    expect(rejected).toMatchObject({ providerStatus: 400, url: CHROMA_MOCK_URL, isRetryable: false });
    expect((rejected as Error).message).toContain("Validation error: name: Expected a name containing 3-512");

    // Same body shape as the recorded errors, for a failure we cannot provoke on demand.
    const internal = JSON.stringify({ error: "InternalError", message: "Error executing plan: disk full" });
    server.use(
      http.get(chromaRoutes.collection("herd-x"), () => new HttpResponse(internal, { status: 500 })),
    );
    const failed = await index()
      .list("x")
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ providerStatus: 500, isRetryable: true });
    expect((failed as Error).message).toBe(
      `Chroma at ${CHROMA_MOCK_URL} failed listing collection "herd-x" (HTTP 500): Error executing plan: disk full`,
    );
  });

  it("says how to pass a token when the server wants one, and sends configured headers", async () => {
    let token: string | null = null;
    server.use(
      http.get(chromaRoutes.collection("herd-x"), ({ request }) => {
        token = request.headers.get("x-chroma-token");
        return HttpResponse.json({ error: "AuthError", message: "Unauthorized" }, { status: 401 });
      }),
    );
    const withToken = new ChromaIndex({ url: CHROMA_MOCK_URL, headers: { "x-chroma-token": "s3cret" } });
    const error = await withToken.list("x").catch((e: unknown) => e);
    expect(token).toBe("s3cret");
    expect(error).toMatchObject({ providerStatus: 401 });
    expect((error as Error).message).toContain("x-chroma-token");
  });

  it("refuses a collection created with another distance space", async () => {
    server.use(http.get(chromaRoutes.collection("herd-centroids"), () => collectionReply({ space: "l2" })));
    const error = await index()
      .query("centroids", unit, 1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/uses the "l2" space; Herd needs "cosine"/);
  });

  it("refuses entries that were not written by Herd", async () => {
    const foreign = chromaFixture("query").replaceAll('"herd.expert":', '"owner":');
    server.use(
      http.get(chromaRoutes.collection("herd-centroids"), () => collectionReply()),
      http.post(chromaRoutes.records(FIXTURE_COLLECTION_ID, "query"), () =>
        HttpResponse.json(JSON.parse(foreign)),
      ),
    );
    await expect(index().query("centroids", unit, 1)).rejects.toThrow(/no "herd.expert" metadata/);
  });
});

describe("parseChromaUrl", () => {
  it("accepts host:port, fills in Chroma's port, keeps explicit ones", () => {
    expect(parseChromaUrl("127.0.0.1:8001")).toEqual({
      url: "http://127.0.0.1:8001",
      host: "127.0.0.1",
      port: 8001,
      ssl: false,
    });
    expect(parseChromaUrl("http://chroma.internal")).toMatchObject({ port: 8000, ssl: false });
    expect(parseChromaUrl("http://chroma.internal:80/")).toMatchObject({
      port: 80,
      url: "http://chroma.internal:80",
    });
    expect(parseChromaUrl("https://chroma.example.com")).toMatchObject({ port: 443, ssl: true });
  });

  it("rejects URLs the client cannot use, naming the setting", () => {
    expect(() => parseChromaUrl("http://host:8000/chroma")).toThrow(ConfigError);
    expect(() => parseChromaUrl("ftp://host")).toThrow(/http:\/\/ or https:\/\//);
    expect(() => parseChromaUrl("http://")).toThrow(/Invalid Chroma URL/);
  });

  it("defaults to CHROMA_URL, then 127.0.0.1:8000", () => {
    const saved = process.env.CHROMA_URL;
    try {
      process.env.CHROMA_URL = "http://10.1.2.3:9000";
      expect(new ChromaIndex().url).toBe("http://10.1.2.3:9000");
      delete process.env.CHROMA_URL;
      expect(new ChromaIndex().url).toBe("http://127.0.0.1:8000");
    } finally {
      if (saved === undefined) delete process.env.CHROMA_URL;
      else process.env.CHROMA_URL = saved;
    }
  });
});
