import { randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Embedder } from "../../../src/core/embedder.js";
import type { ExpertSet } from "../../../src/core/expert.js";
import { Router } from "../../../src/core/router.js";
import { l2Normalize } from "../../../src/core/vector-math.js";
import { ChromaIndex } from "../../../src/providers/indexes/chroma.js";
import {
  CHROMA_MOCK_URL,
  chromaBaseHandlers,
  chromaFixture,
  chromaReply,
  chromaRoutes,
  FIXTURE_COLLECTION_ID,
} from "../../helpers/chroma-mock.js";

/**
 * A Chroma server in memory, speaking the recorded wire format: enough of the collection and record
 * routes for a Router, and a `restart()` that forgets everything like a server without --path.
 */
function memoryChroma() {
  let collections = new Map<
    string,
    { id: string; records: Map<string, { vector: number[]; metadata: unknown }> }
  >();
  const byId = (id: string) => [...collections.values()].find((c) => c.id === id);
  const reply = (id: string) =>
    new HttpResponse(chromaFixture("collection").replaceAll(FIXTURE_COLLECTION_ID, id), {
      headers: { "content-type": "application/json" },
    });
  const decode = (e: string | number[]) => {
    if (Array.isArray(e)) return e;
    const bytes = Buffer.from(e, "base64");
    return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
  };
  const handlers = [
    http.get(`${chromaRoutes.collections}/:name`, ({ params }) => {
      const found = collections.get(String(params.name));
      return found ? reply(found.id) : chromaReply("collection-not-found", 404);
    }),
    http.post(chromaRoutes.collections, async ({ request }) => {
      const { name } = (await request.json()) as { name: string };
      const found = collections.get(name) ?? { id: randomUUID(), records: new Map() };
      collections.set(name, found);
      return reply(found.id);
    }),
    http.post(`${chromaRoutes.collections}/:id/upsert`, async ({ params, request }) => {
      const target = byId(String(params.id));
      if (!target) return chromaReply("collection-not-found", 404);
      const body = (await request.json()) as { ids: string[]; embeddings: string[]; metadatas: unknown[] };
      body.ids.forEach((id, i) => {
        target.records.set(id, { vector: decode(body.embeddings[i]!), metadata: body.metadatas[i] });
      });
      return HttpResponse.json({});
    }),
    http.post(`${chromaRoutes.collections}/:id/query`, async ({ params, request }) => {
      const target = byId(String(params.id));
      if (!target) return chromaReply("collection-not-found", 404);
      const { query_embeddings } = (await request.json()) as { query_embeddings: number[][] };
      const q = query_embeddings[0]!;
      const hits = [...target.records.entries()]
        .map(([id, r]) => ({
          id,
          metadata: r.metadata,
          distance: 1 - r.vector.reduce((s, x, i) => s + x * q[i]!, 0),
        }))
        .sort((a, b) => a.distance - b.distance);
      return HttpResponse.json({
        ids: [hits.map((h) => h.id)],
        embeddings: null,
        documents: null,
        uris: null,
        metadatas: [hits.map((h) => h.metadata)],
        distances: [hits.map((h) => h.distance)],
        include: ["distances", "metadatas"],
      });
    }),
  ];
  return {
    handlers,
    restart: () => {
      collections = new Map();
    },
  };
}

class KeywordEmbedder implements Embedder {
  readonly id = "keywords-v1";
  async dimension() {
    return 3;
  }
  async embed(texts: readonly string[]) {
    return texts.map((t) =>
      l2Normalize(Float32Array.from([t.split("code").length - 1, t.split("poem").length - 1, 0.1])),
    );
  }
}
const expert = (name: string, examples: string[]) => ({
  name,
  description: "",
  categories: [],
  adapter: "a",
  model: `herd-${name}`,
  examples,
});
const experts: ExpertSet = {
  baseModel: "base",
  experts: [expert("code", ["code"]), expert("creative", ["poem"])],
};

const chroma = memoryChroma();
const server = setupServer(...chromaBaseHandlers, ...chroma.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

describe("a Router over a Chroma server that restarted empty", () => {
  it("writes the centroids again from disk and keeps routing to the experts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-chroma-restart-"));
    const router = new Router({
      experts,
      embedder: new KeywordEmbedder(),
      index: new ChromaIndex({ url: CHROMA_MOCK_URL }),
      centroidsDir: dir,
      options: { strategy: "centroid" },
    });
    expect((await router.route("write a poem")).selected.map((e) => e.name)).toEqual(["creative"]);
    chroma.restart();
    const decision = await router.route("write a poem");
    expect(decision.reason).toBe("routed");
    expect(decision.selected.map((e) => e.name)).toEqual(["creative"]);
    expect(decision.warnings.join(" ")).toContain(`written again from ${join(dir, "keywords-v1")}`);
    const next = await router.route("some code");
    expect(next.selected.map((e) => e.name)).toEqual(["code"]);
    expect(next.warnings).toEqual([]);
  });
});
