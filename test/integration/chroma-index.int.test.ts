import { ChromaClient } from "chromadb";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/chroma-server.js";
import type { IndexEntry } from "../../src/core/centroid-index.js";
import { ConfigError, ProviderUnavailableError } from "../../src/core/errors.js";
import { ChromaIndex, parseChromaUrl } from "../../src/providers/indexes/chroma.js";
import { chromaUrl, uniqueCollection } from "../helpers/chroma.js";

/** A plain chromadb client on the same server, to look behind the index. */
function rawClient(): ChromaClient {
  const { host, port } = parseChromaUrl(chromaUrl());
  return new ChromaClient({ host, port });
}

const dropped: { index: ChromaIndex; collection: string }[] = [];
afterAll(async () => {
  for (const { index, collection } of dropped) await index.remove(collection);
});

function track(index: ChromaIndex, label: string): string {
  const collection = uniqueCollection(label);
  dropped.push({ index, collection });
  return collection;
}

const vec = (...values: number[]) => Float32Array.from(values);

describe("ChromaIndex on a real Chroma server", () => {
  it("answers the heartbeat", async () => {
    await expect(new ChromaIndex({ url: chromaUrl() }).health()).resolves.toBeUndefined();
  });

  it("names the URL and the fix when nothing listens there", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const index = new ChromaIndex({ url });
    const error = await index.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toBe(
      `Cannot reach Chroma at ${url}. Start Chroma with \`npx chroma run --path ./chroma-data\` or pass --chroma-url.`,
    );
    await expect(index.query("anything", vec(1, 0), 1)).rejects.toBeInstanceOf(ProviderUnavailableError);
  });

  it("stores a cosine collection under the sanitized, prefixed name", async () => {
    const index = new ChromaIndex({ url: chromaUrl() });
    const collection = track(index, "centroids-ollama:nomic/embed");
    await index.upsert(collection, [{ id: "code", expert: "code", vector: vec(1, 0, 0) }]);
    const stored = await rawClient().getCollection({ name: index.collectionName(collection) });
    expect(stored.name).toMatch(/^herd-centroids-ollama-nomic-embed-[0-9a-f]{8}-[0-9a-f]{8}$/);
    expect(stored.configuration.hnsw?.space).toBe("cosine");
  });

  it("lets replicas see experts added and removed by another, without restarting", async () => {
    const writer = new ChromaIndex({ url: chromaUrl() });
    const reader = new ChromaIndex({ url: chromaUrl() });
    const collection = track(writer, "replicas");
    await writer.upsert(collection, [{ id: "code", expert: "code", vector: vec(1, 0, 0) }]);
    expect((await reader.query(collection, vec(0, 1, 0), 5)).map((h) => h.expert)).toEqual(["code"]);
    await writer.upsert(collection, [{ id: "writing", expert: "writing", vector: vec(0, 1, 0) }]);
    expect((await reader.query(collection, vec(0, 1, 0), 5)).map((h) => h.expert)).toEqual([
      "writing",
      "code",
    ]);
    await writer.remove(collection, ["writing"]);
    expect((await reader.query(collection, vec(0, 1, 0), 5)).map((h) => h.expert)).toEqual(["code"]);
  });

  it("keeps working when another process drops and recreates the collection", async () => {
    const first = new ChromaIndex({ url: chromaUrl() });
    const other = new ChromaIndex({ url: chromaUrl() });
    const collection = track(first, "recreated");
    await first.upsert(collection, [{ id: "old", expert: "old", vector: vec(1, 0) }]);
    expect(await first.query(collection, vec(1, 0), 1)).toHaveLength(1);
    await other.remove(collection);
    await other.upsert(collection, [{ id: "new", expert: "new", vector: vec(0, 1) }]);
    expect((await first.query(collection, vec(1, 0), 3)).map((h) => h.id)).toEqual(["new"]);
    await first.upsert(collection, [{ id: "newer", expert: "newer", vector: vec(1, 1) }]);
    expect((await other.list(collection)).map((e) => e.id).sort()).toEqual(["new", "newer"]);
  });

  it("upserts more entries than the server takes in one request", async () => {
    const index = new ChromaIndex({ url: chromaUrl() });
    const collection = track(index, "batches");
    const max = await rawClient().getMaxBatchSize();
    const entries: IndexEntry[] = Array.from({ length: max + 10 }, (_, i) => ({
      id: `example-${i}`,
      expert: `expert-${i % 3}`,
      vector: vec(Math.cos(i), Math.sin(i), 1),
    }));
    await index.upsert(collection, entries);
    expect(await index.list(collection)).toHaveLength(max + 10);
    const [nearest] = await index.query(collection, vec(Math.cos(max + 9), Math.sin(max + 9), 1), 1);
    expect(nearest?.distance).toBeLessThan(1e-5);
  });

  it("refuses a collection of the same name that uses another distance space", async () => {
    const index = new ChromaIndex({ url: chromaUrl() });
    const collection = track(index, "euclid");
    await rawClient().createCollection({
      name: index.collectionName(collection),
      embeddingFunction: null,
      configuration: { hnsw: { space: "l2" } },
    });
    await expect(index.query(collection, vec(1, 0), 1)).rejects.toBeInstanceOf(ConfigError);
    await expect(index.upsert(collection, [{ id: "a", expert: "a", vector: vec(1, 0) }])).rejects.toThrow(
      /uses the "l2" space; Herd needs "cosine"/,
    );
  });
});
