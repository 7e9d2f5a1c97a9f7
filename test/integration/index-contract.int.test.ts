import { afterEach, describe, expect, it } from "vitest";
import type { CentroidIndex, IndexEntry, IndexHit } from "../../src/core/centroid-index.js";
import { DimensionMismatchError } from "../../src/core/errors.js";
import { ChromaIndex } from "../../src/providers/indexes/chroma.js";
import { MemoryIndex } from "../../src/providers/indexes/memory.js";
import { chromaUrl, uniqueCollection } from "../helpers/chroma.js";

/** The CentroidIndex contract, run against every implementation (Chroma against a real server). */
const implementations: { kind: string; create: () => CentroidIndex }[] = [
  { kind: "memory", create: () => new MemoryIndex() },
  { kind: "chroma", create: () => new ChromaIndex({ url: chromaUrl() }) },
];

function entry(id: string, expert: string, vector: number[], metadata?: IndexEntry["metadata"]): IndexEntry {
  return metadata
    ? { id, expert, vector: Float32Array.from(vector), metadata }
    : { id, expert, vector: Float32Array.from(vector) };
}

const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

/** Plain objects for toEqual, sorted by id. */
function plain(entries: IndexEntry[]) {
  return [...entries].sort(byId).map((e) => ({ ...e, vector: Array.from(e.vector) }));
}

/**
 * The expected side of toEqual: vector components match within float32 rounding, since Chroma's
 * cosine space may hand back a vector rescaled by its norm (1 becomes 0.99999994).
 */
function approx(entries: IndexEntry[]) {
  return plain(entries).map((e) => ({ ...e, vector: e.vector.map((x) => expect.closeTo(x, 6)) }));
}

/** Deterministic pseudo-random vectors (mulberry32). */
function randomVectors(count: number, dimension: number, seed: number): Float32Array[] {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  return Array.from({ length: count }, () => Float32Array.from({ length: dimension }, next));
}

const SQRT1_2 = Math.SQRT1_2;
const compass = [
  entry("east", "maths", [1, 0, 0]),
  entry("north-east", "code", [1, 1, 0], { description: "diagonal", weight: 2, active: true }),
  entry("north", "writing", [0, 3, 0]),
  entry("west", "roleplay", [-2, 0, 0]),
];

describe.each(implementations)("CentroidIndex contract: $kind", ({ kind, create }) => {
  const opened: { index: CentroidIndex; collection: string }[] = [];
  const open = (label: string) => {
    const index = create();
    const collection = uniqueCollection(`contract-${label}`);
    opened.push({ index, collection });
    return { index, collection };
  };

  afterEach(async () => {
    for (const { index, collection } of opened.splice(0)) {
      await index.remove(collection);
      await index.close?.();
    }
  });

  it("answers [] for a collection that does not exist", async () => {
    const { index, collection } = open("missing");
    expect(await index.query(collection, Float32Array.from([1, 0, 0]), 3)).toEqual([]);
    expect(await index.list(collection)).toEqual([]);
  });

  it("returns the nearest entries first with their cosine distances", async () => {
    const { index, collection } = open("order");
    await index.upsert(collection, compass);
    const hits = await index.query(collection, Float32Array.from([2, 0, 0]), 3);
    expect(hits.map((h) => [h.id, h.expert])).toEqual([
      ["east", "maths"],
      ["north-east", "code"],
      ["north", "writing"],
    ]);
    expect(hits[0]!.distance).toBeCloseTo(0, 5);
    expect(hits[1]!.distance).toBeCloseTo(1 - SQRT1_2, 5);
    expect(hits[2]!.distance).toBeCloseTo(1, 5);
  });

  it("returns every entry when k exceeds the collection size, and none for k = 0", async () => {
    const { index, collection } = open("k");
    await index.upsert(collection, compass);
    const hits = await index.query(collection, Float32Array.from([1, 0, 0]), 1000);
    expect(hits.map((h) => h.id)).toEqual(["east", "north-east", "north", "west"]);
    expect(hits[3]!.distance).toBeCloseTo(2, 5);
    const all = await index.query(collection, Float32Array.from([1, 0, 0]), Number.POSITIVE_INFINITY);
    expect(all.map((h) => h.id)).toEqual(hits.map((h) => h.id));
    expect(await index.query(collection, Float32Array.from([1, 0, 0]), 0)).toEqual([]);
  });

  it("lists every entry with its vector, expert and metadata", async () => {
    const { index, collection } = open("list");
    await index.upsert(collection, compass);
    expect(plain(await index.list(collection))).toEqual(approx(compass));
  });

  it("replaces an entry upserted again under the same id", async () => {
    const { index, collection } = open("replace");
    await index.upsert(collection, compass);
    await index.upsert(collection, [entry("west", "maths-2", [1, 0.01, 0])]);
    const hits = await index.query(collection, Float32Array.from([1, 0, 0]), 2);
    expect(hits.map((h) => [h.id, h.expert])).toEqual([
      ["east", "maths"],
      ["west", "maths-2"],
    ]);
    const listed = await index.list(collection);
    expect(listed).toHaveLength(4);
    expect(plain(listed).find((e) => e.id === "west")).toEqual(
      approx([entry("west", "maths-2", [1, 0.01, 0])])[0],
    );
  });

  it("removes entries by id and ignores ids it does not hold", async () => {
    const { index, collection } = open("remove");
    await index.upsert(collection, compass);
    await index.remove(collection, ["east", "not-there"]);
    const hits = await index.query(collection, Float32Array.from([1, 0, 0]), 10);
    expect(hits.map((h) => h.id)).toEqual(["north-east", "north", "west"]);
    expect((await index.list(collection)).map((e) => e.id).sort()).toEqual(["north", "north-east", "west"]);
  });

  it("drops the whole collection when no ids are given, and tolerates dropping it twice", async () => {
    const { index, collection } = open("drop");
    await index.upsert(collection, compass);
    await index.remove(collection);
    expect(await index.query(collection, Float32Array.from([1, 0, 0]), 3)).toEqual([]);
    expect(await index.list(collection)).toEqual([]);
    await expect(index.remove(collection)).resolves.toBeUndefined();
    await index.upsert(collection, [entry("again", "code", [0, 1, 0])]);
    expect((await index.list(collection)).map((e) => e.id)).toEqual(["again"]);
  });

  it("keeps collections apart, also names with ':' and '/' (embedder ids)", async () => {
    const { index, collection } = open("names");
    const odd = `${collection}:ollama/nomic-embed-text:latest`;
    opened.push({ index, collection: odd });
    await index.upsert(collection, [entry("a", "code", [1, 0, 0])]);
    await index.upsert(odd, [entry("a", "writing", [0, 1, 0])]);
    expect((await index.query(collection, Float32Array.from([0, 1, 0]), 1))[0]).toMatchObject({
      expert: "code",
    });
    expect(await index.query(odd, Float32Array.from([0, 1, 0]), 1)).toEqual([
      { id: "a", expert: "writing", distance: expect.closeTo(0, 5) },
    ]);
  });

  it("rejects a vector whose dimension differs from the collection's", async () => {
    const { index, collection } = open("dimension");
    await index.upsert(collection, compass);
    await expect(index.upsert(collection, [entry("flat", "code", [1, 0])])).rejects.toBeInstanceOf(
      DimensionMismatchError,
    );
  });

  it(`gives the same hits and distances as the memory index (${kind})`, async () => {
    const { index, collection } = open("same");
    const reference = new MemoryIndex();
    const vectors = randomVectors(120, 64, 7);
    const entries = vectors.map((vector, i) => ({ id: `e${i}`, expert: `expert-${i % 6}`, vector }));
    await index.upsert(collection, entries);
    await reference.upsert(collection, entries);
    for (const query of randomVectors(5, 64, 99)) {
      const expected = await reference.query(collection, query, 8);
      const actual = await index.query(collection, query, 8);
      expect(actual.map((h) => [h.id, h.expert])).toEqual(expected.map((h) => [h.id, h.expert]));
      actual.forEach((hit: IndexHit, i) => {
        expect(Math.abs(hit.distance - expected[i]!.distance)).toBeLessThan(1e-5);
      });
    }
  });
});
