import { randomUUID } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChromaClient } from "chromadb";
import { afterAll, describe, expect, it } from "vitest";
import type { Embedder } from "../../src/core/embedder.js";
import type { ExpertSet } from "../../src/core/expert.js";
import { collectionNames, Router } from "../../src/core/router.js";
import { l2Normalize } from "../../src/core/vector-math.js";
import { ChromaIndex, parseChromaUrl } from "../../src/providers/indexes/chroma.js";
import { chromaUrl } from "../helpers/chroma.js";

class KeywordEmbedder implements Embedder {
  /** A unique id, so the centroids collection is this test's own. */
  readonly id = `keywords-${randomUUID().slice(0, 8)}`;
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

const embedder = new KeywordEmbedder();
const index = new ChromaIndex({ url: chromaUrl() });
const collection = collectionNames(embedder.id).centroids;
afterAll(() => index.remove(collection));

describe("a Router on a real Chroma server whose collection disappears mid-run", () => {
  it("writes the centroids again from disk (and says so) when the collection is deleted or emptied", async () => {
    const { host, port } = parseChromaUrl(chromaUrl());
    const raw = new ChromaClient({ host, port });
    const dir = await mkdtemp(join(tmpdir(), "herd-chroma-restart-"));
    const router = new Router({
      experts,
      embedder,
      index,
      centroidsDir: dir,
      options: { strategy: "centroid" },
    });
    expect((await router.route("write a poem")).selected.map((e) => e.name)).toEqual(["creative"]);

    await raw.deleteCollection({ name: index.collectionName(collection) });
    const afterDelete = await router.route("write a poem");
    expect(afterDelete.reason).toBe("routed");
    expect(afterDelete.selected.map((e) => e.name)).toEqual(["creative"]);
    expect(afterDelete.warnings.join(" ")).toMatch(/lost the centroids.*written again/);
    expect(await index.list(collection)).toHaveLength(2);

    const handle = await raw.getCollection({ name: index.collectionName(collection) });
    await handle.delete({ ids: ["code", "creative"] });
    const afterEmpty = await router.route("some code");
    expect(afterEmpty.selected.map((e) => e.name)).toEqual(["code"]);
    expect(afterEmpty.warnings.join(" ")).toMatch(/lost the centroids/);
  });
});
