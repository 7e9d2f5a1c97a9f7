import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCentroidFile } from "../../../src/core/centroid-store.js";
import type { Embedder } from "../../../src/core/embedder.js";
import { FileFormatError, ProviderResponseError } from "../../../src/core/errors.js";
import type { ExpertSet } from "../../../src/core/expert.js";
import { formatNpy } from "../../../src/core/npy.js";
import { collectionNames, Router } from "../../../src/core/router.js";
import { l2Normalize } from "../../../src/core/vector-math.js";
import { blendWeights } from "../../../src/core/weights.js";
import { MemoryIndex } from "../../../src/providers/indexes/memory.js";

const AXES = ["code", "poem"];

/** One axis per keyword plus a constant, so no vector is zero; records what it was asked to embed. */
class KeywordEmbedder implements Embedder {
  readonly id = "keywords-v1";
  readonly seen: string[] = [];
  async dimension() {
    return AXES.length + 1;
  }
  async embed(texts: readonly string[]) {
    this.seen.push(...texts);
    return texts.map((t) => {
      const v = new Float32Array(AXES.length + 1);
      AXES.forEach((word, i) => {
        v[i] = t.split(word).length - 1;
      });
      v[AXES.length] = 0.1;
      return l2Normalize(v);
    });
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
  experts: [expert("code", ["code", "code code"]), expert("creative", ["poem", "poem poem"])],
};

describe("corrupt stored centroids", () => {
  async function storeWith(code: Float32Array): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "herd-faults-"));
    await new Router({
      experts,
      embedder: new KeywordEmbedder(),
      index: new MemoryIndex(),
      centroidsDir: dir,
      options: { strategy: "centroid" },
    }).route("poem");
    // A corrupt vector under a manifest that still says the centroids are fresh.
    await writeFile(join(dir, "keywords-v1", "code.npy"), formatNpy(code));
    return dir;
  }

  for (const [what, vector] of [
    ["NaN", Float32Array.from([Number.NaN, 0, 0])],
    ["Infinity", Float32Array.from([Number.POSITIVE_INFINITY, 1, 0])],
    ["all zeros", new Float32Array(3)],
  ] as const) {
    it(`refuses a centroid of ${what}, naming the file and \`herd centroids\``, async () => {
      const dir = await storeWith(vector);
      const router = new Router({
        experts,
        embedder: new KeywordEmbedder(),
        index: new MemoryIndex(),
        centroidsDir: dir,
        options: { strategy: "centroid" },
      });
      const failure = router.route("write a poem");
      await expect(failure).rejects.toThrow(FileFormatError);
      await expect(router.route("write a poem")).rejects.toThrow(
        new RegExp(
          `${join(dir, "keywords-v1", "code.npy").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.*herd centroids`,
        ),
      );
      await expect(readCentroidFile(join(dir, "keywords-v1", "code.npy"))).rejects.toThrow(FileFormatError);
    });
  }

  it("never gives NaN weights, even for non-finite distances", () => {
    for (const scheme of ["inverse-distance", "softmax"] as const) {
      expect(() => blendWeights([Number.NaN, 0.5], scheme)).toThrow(RangeError);
      expect(() => blendWeights([0.2, Number.POSITIVE_INFINITY], scheme)).toThrow(RangeError);
      expect(blendWeights([0.2, 0.5], scheme).every(Number.isFinite)).toBe(true);
    }
  });
});

describe("an index that lost its entries (Chroma restarted empty)", () => {
  it("writes the centroids again from disk, says so, and routes as before", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-faults-"));
    const index = new MemoryIndex();
    const embedder = new KeywordEmbedder();
    const router = new Router({
      experts,
      embedder,
      index,
      centroidsDir: dir,
      options: { strategy: "centroid" },
    });
    expect((await router.route("write a poem")).selected[0]?.name).toBe("creative");
    const embedded = embedder.seen.length;
    await index.remove(collectionNames("keywords-v1").centroids);
    const decision = await router.route("write a poem");
    expect(decision.reason).toBe("routed");
    expect(decision.selected[0]?.name).toBe("creative");
    expect(decision.warnings.join(" ")).toMatch(/lost the centroids of "code", "creative".*written again/);
    expect(embedder.seen.length).toBe(embedded + 1); // read from disk, not rebuilt
    expect((await index.list(collectionNames("keywords-v1").centroids)).length).toBe(2);
  });

  it("writes the knn examples again when their collection is gone", async () => {
    const index = new MemoryIndex();
    const router = new Router({
      experts,
      embedder: new KeywordEmbedder(),
      index,
      options: { strategy: "knn" },
    });
    await router.route("some code");
    await index.remove(collectionNames("keywords-v1", experts.experts).examples);
    const decision = await router.route("some code");
    expect(decision.reason).toBe("routed");
    expect(decision.selected[0]?.name).toBe("code");
    expect(decision.warnings.join(" ")).toMatch(/lost the examples/);
  });

  it("fails with a clear error, never 'below threshold', when the index stays empty", async () => {
    class ForgetfulIndex extends MemoryIndex {
      override async query() {
        return [];
      }
    }
    const router = new Router({
      experts,
      embedder: new KeywordEmbedder(),
      index: new ForgetfulIndex(),
      options: { strategy: "centroid" },
    });
    await expect(router.route("write a poem")).rejects.toThrow(ProviderResponseError);
    await expect(router.route("write a poem")).rejects.toThrow(
      /returned no centroids for "code", "creative" even after they were written again/,
    );
  });
});
