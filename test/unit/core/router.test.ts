import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CentroidStore } from "../../../src/core/centroid-store.js";
import type { Embedder } from "../../../src/core/embedder.js";
import {
  ConfigError,
  DimensionMismatchError,
  InvalidInputError,
  UnknownExpertError,
} from "../../../src/core/errors.js";
import type { ExpertSet } from "../../../src/core/expert.js";
import { Router as BaseRouter, collectionNames, type RouterInit } from "../../../src/core/router.js";
import { l2Normalize } from "../../../src/core/vector-math.js";
import { MemoryIndex } from "../../../src/providers/indexes/memory.js";

/** These tests are about the centroid and knn strategies (linear-router.test.ts covers the default, linear). */
class Router extends BaseRouter {
  constructor(init: RouterInit) {
    super({ ...init, options: { strategy: "centroid", ...init.options } });
  }
}

const AXES = ["code", "poem", "riddle"];

/** A transparent embedder: one axis per keyword, plus a small constant so no vector is zero. */
class KeywordEmbedder implements Embedder {
  calls = 0;
  constructor(
    readonly id = "keywords-v1",
    private readonly dim = AXES.length + 1,
  ) {}
  async dimension() {
    return this.dim;
  }
  async embed(texts: readonly string[]) {
    this.calls += texts.length;
    return texts.map((t) => {
      const v = new Float32Array(this.dim);
      AXES.forEach((word, i) => {
        v[i] = t.split(word).length - 1;
      });
      v[this.dim - 1] = 0.1;
      return l2Normalize(v);
    });
  }
}

const experts: ExpertSet = {
  baseModel: "base",
  experts: [
    {
      name: "code",
      description: "",
      categories: [],
      adapter: "a",
      model: "herd-code",
      examples: ["code code", "code"],
    },
    {
      name: "creative",
      description: "",
      categories: [],
      adapter: "a",
      model: "herd-creative",
      examples: ["poem", "poem poem"],
    },
    {
      name: "reasoning",
      description: "",
      categories: [],
      adapter: "a",
      model: "herd-reasoning",
      examples: ["riddle"],
    },
  ],
};

describe("Router (centroid strategy)", () => {
  it("ranks every expert by cosine distance and picks the nearest", async () => {
    const router = new Router({ experts, embedder: new KeywordEmbedder(), index: new MemoryIndex() });
    const d = await router.route("please write a poem");
    expect(d.reason).toBe("routed");
    expect(d.strategy).toBe("centroid");
    expect(d.ranked.map((e) => e.name)).toEqual(["creative", expect.any(String), expect.any(String)]);
    expect(d.selected).toEqual([expect.objectContaining({ name: "creative", weight: 1 })]);
    expect(d.model).toBe("herd-creative");
    expect(d.ranked[0]!.similarity).toBeCloseTo(1 - d.ranked[0]!.distance, 12);
    expect(d.embedder).toBe("keywords-v1");
    expect(d.timings.totalMs).toBeGreaterThanOrEqual(d.timings.embedMs);
  });

  it("blends top experts with weights that sum to 1, nearest heaviest", async () => {
    const router = new Router({ experts, embedder: new KeywordEmbedder(), index: new MemoryIndex() });
    const d = await router.route("code a poem about code", { topExperts: 2 });
    expect(d.selected.map((e) => e.name)).toEqual(["code", "creative"]);
    expect(d.selected[0]!.weight + d.selected[1]!.weight).toBeCloseTo(1, 12);
    expect(d.selected[0]!.weight).toBeGreaterThan(d.selected[1]!.weight);
    expect(d.ranked[2]!.weight).toBe(0);
    const sharp = await router.route("code a poem about code", {
      topExperts: 2,
      weighting: "softmax",
      temperature: 0.01,
    });
    expect(sharp.selected[0]!.weight).toBeGreaterThan(d.selected[0]!.weight);
  });

  it("routes the last user message of a chat by default", async () => {
    const router = new Router({ experts, embedder: new KeywordEmbedder(), index: new MemoryIndex() });
    const d = await router.route([
      { role: "system", content: "you write code" },
      { role: "user", content: "code please" },
      { role: "assistant", content: "ok" },
      { role: "user", content: "now a riddle" },
    ]);
    expect(d.selected[0]!.name).toBe("reasoning");
    const all = new Router({
      experts,
      embedder: new KeywordEmbedder(),
      index: new MemoryIndex(),
      options: { textMode: "all" },
    });
    expect(
      (
        await all.route([
          { role: "system", content: "code code code" },
          { role: "user", content: "riddle" },
        ])
      ).selected[0]!.name,
    ).toBe("code");
  });

  it("falls back to the base model below the confidence threshold", async () => {
    const router = new Router({
      experts,
      embedder: new KeywordEmbedder(),
      index: new MemoryIndex(),
      options: { threshold: 0.5 },
    });
    const d = await router.route("hello there");
    expect(d.reason).toBe("below-threshold");
    expect(d.selected).toEqual([]);
    expect(d.model).toBe("base");
    expect(d.ranked).toHaveLength(3);
    expect((await router.route("a poem")).reason).toBe("routed");
  });

  it("forces experts and base-only without embedding", async () => {
    const embedder = new KeywordEmbedder();
    const router = new Router({ experts, embedder, index: new MemoryIndex() });
    const forced = await router.route("anything", { experts: ["code", "reasoning"] });
    expect(forced.reason).toBe("forced");
    expect(forced.selected.map((e) => [e.name, e.weight])).toEqual([
      ["code", 0.5],
      ["reasoning", 0.5],
    ]);
    const base = await router.route("anything", { baseOnly: true });
    expect(base).toMatchObject({ reason: "base-only", model: "base", selected: [] });
    expect(embedder.calls).toBe(0);
    await expect(router.route("x", { experts: ["poetry"] })).rejects.toThrow(UnknownExpertError);
    await expect(router.route("x", { experts: ["poetry"] })).rejects.toThrow(
      /Known experts: code, creative, reasoning/,
    );
  });

  it("rejects empty prompts and bad options with errors naming the field", async () => {
    const router = new Router({ experts, embedder: new KeywordEmbedder(), index: new MemoryIndex() });
    await expect(router.route("   ")).rejects.toThrow(InvalidInputError);
    await expect(router.route([{ role: "user", content: "" }])).rejects.toThrow(/non-empty user message/);
    await expect(router.route("poem", { topExperts: 0 })).rejects.toThrow(
      /route\.topExperts must be an integer >= 1/,
    );
    expect(
      () =>
        new Router({ experts, embedder: new KeywordEmbedder(), index: new MemoryIndex(), options: { k: 0 } }),
    ).toThrow(ConfigError);
  });

  it("builds centroids once, stores them per embedder, and reuses them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-router-"));
    const embedder = new KeywordEmbedder();
    const index = new MemoryIndex();
    await new Router({ experts, embedder, index, centroidsDir: dir }).route("poem");
    const built = embedder.calls;
    expect(built).toBe(5 + 1);
    expect(await readdir(join(dir, "keywords-v1"))).toEqual([
      "code.npy",
      "creative.npy",
      "manifest.json",
      "reasoning.npy",
    ]);
    const fresh = new KeywordEmbedder();
    await new Router({ experts, embedder: fresh, index: new MemoryIndex(), centroidsDir: dir }).route("poem");
    expect(fresh.calls).toBe(1);
    // changed examples make the stored centroids stale: they are rebuilt
    const changed = {
      ...experts,
      experts: experts.experts.map((e) => (e.name === "code" ? { ...e, examples: ["code", "poem"] } : e)),
    };
    const third = new KeywordEmbedder();
    await new Router({
      experts: changed,
      embedder: third,
      index: new MemoryIndex(),
      centroidsDir: dir,
    }).route("poem");
    expect(third.calls).toBe(5 + 1);
  });

  it("keeps centroids built with other sampling settings (herd centroids --samples N)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-router-"));
    await new Router({
      experts,
      embedder: new KeywordEmbedder(),
      index: new MemoryIndex(),
      centroidsDir: dir,
    }).rebuildCentroids({
      samples: 1,
      seed: 7,
    });
    const later = new KeywordEmbedder();
    await new Router({ experts, embedder: later, index: new MemoryIndex(), centroidsDir: dir }).route("poem");
    expect(later.calls).toBe(1);
    expect((await new CentroidStore(dir).load("keywords-v1"))?.manifest).toMatchObject({
      samples: 1,
      seed: 7,
    });
  });

  it("refuses stored centroids whose dimension differs from the embedder's", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-router-"));
    await new Router({
      experts,
      embedder: new KeywordEmbedder("same-id", 4),
      index: new MemoryIndex(),
      centroidsDir: dir,
    }).route("poem");
    const router = new Router({
      experts,
      embedder: new KeywordEmbedder("same-id", 6),
      index: new MemoryIndex(),
      centroidsDir: dir,
    });
    await expect(router.route("poem")).rejects.toThrow(DimensionMismatchError);
    await expect(router.route("poem")).rejects.toThrow(/Rebuild them with `herd centroids/);
    expect(new CentroidStore(dir).folder("same-id")).toBe(join(dir, "same-id"));
  });

  it("imports centroids made elsewhere, checking experts and dimension", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-router-"));
    const embedder = new KeywordEmbedder();
    const router = new Router({ experts, embedder, index: new MemoryIndex(), centroidsDir: dir });
    const axis = (i: number) => l2Normalize(Float32Array.from([0, 1, 2, 3].map((j) => (j === i ? 1 : 0))));
    await router.importCentroids(
      new Map([
        ["code", axis(2)],
        ["creative", axis(0)],
        ["reasoning", axis(1)],
      ]),
    );
    expect(embedder.calls).toBe(0);
    // the imported vectors are swapped on purpose: routing follows them, not the examples
    expect((await router.route("code code")).selected[0]!.name).toBe("creative");
    expect(router.centroidsFolder).toBe(join(dir, "keywords-v1"));
    await expect(router.importCentroids(new Map([["code", axis(0)]]))).rejects.toThrow(UnknownExpertError);
    const wide = Float32Array.from([1, 0, 0, 0, 0]);
    await expect(
      router.importCentroids(
        new Map([
          ["code", wide],
          ["creative", wide],
          ["reasoning", wide],
        ]),
      ),
    ).rejects.toThrow(/has dimension 5 but embedder keywords-v1 gives 4/);
  });

  it("adds and removes experts without restarting", async () => {
    const index = new MemoryIndex();
    const embedder = new KeywordEmbedder();
    const router = new Router({
      experts: { ...experts, experts: experts.experts.slice(0, 2) },
      embedder,
      index,
    });
    expect((await router.route("riddle riddle")).ranked).toHaveLength(2);
    await router.addExpert(experts.experts[2]!);
    expect((await router.route("riddle riddle")).selected[0]!.name).toBe("reasoning");
    await router.removeExpert("reasoning");
    expect((await index.list(collectionNames("keywords-v1").centroids)).map((e) => e.id).sort()).toEqual([
      "code",
      "creative",
    ]);
    await expect(router.removeExpert("reasoning")).rejects.toThrow(UnknownExpertError);
  });
});

describe("Router with a shared index and run-time expert changes", () => {
  const poetry = {
    name: "poetry",
    description: "",
    categories: [],
    adapter: "p.gguf",
    model: "herd-poetry",
    examples: ["poem poem poem", "a poem"],
  };
  const noPoems = {
    ...experts,
    experts: experts.experts.map((e) => (e.name === "creative" ? { ...e, examples: ["riddle poem"] } : e)),
  };

  it("validates an added expert and keeps the old set when it is bad", async () => {
    const router = new Router({ experts, embedder: new KeywordEmbedder(), index: new MemoryIndex() });
    await expect(router.addExpert({ ...poetry, examples: [] })).rejects.toThrow(
      /Expert "poetry" has no example prompts/,
    );
    await expect(router.addExpert({ ...poetry, name: "../x" })).rejects.toThrow(
      /Expert "..\/x": name: must be lowercase/,
    );
    expect(router.experts.experts.map((e) => e.name)).toEqual(["code", "creative", "reasoning"]);
    expect((await router.route("a poem")).selected[0]!.name).toBe("creative");
  });

  it("serves concurrent expert changes without errors", async () => {
    const router = new Router({ experts, embedder: new KeywordEmbedder(), index: new MemoryIndex() });
    const results = await Promise.allSettled([
      router.addExpert(poetry),
      router.addExpert({ ...poetry, name: "sql", model: "herd-sql", examples: ["code code code riddle"] }),
      router.route("a poem"),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
    expect((await router.route("a poem")).ranked.map((e) => e.name).sort()).toEqual([
      "code",
      "creative",
      "poetry",
      "reasoning",
      "sql",
    ]);
  });

  it("a replica starting on the same index keeps the experts others added, and ranks all of its own", async () => {
    const index = new MemoryIndex();
    const a = new Router({ experts, embedder: new KeywordEmbedder(), index });
    await a.addExpert(poetry);
    expect((await a.route("poem poem poem")).selected[0]!.name).toBe("poetry");
    const b = new Router({ experts, embedder: new KeywordEmbedder(), index });
    expect((await b.route("poem poem poem")).ranked.map((e) => e.name).sort()).toEqual([
      "code",
      "creative",
      "reasoning",
    ]);
    expect((await a.route("poem poem poem")).selected[0]!.name).toBe("poetry");
    await a.removeExpert("poetry");
    expect((await index.list(collectionNames("keywords-v1").centroids)).map((e) => e.id).sort()).toEqual([
      "code",
      "creative",
      "reasoning",
    ]);
  });

  it("gives each expert set its own knn examples collection, so replicas never empty each other's", async () => {
    const index = new MemoryIndex();
    const a = new Router({
      experts,
      embedder: new KeywordEmbedder(),
      index,
      options: { strategy: "knn", k: 1 },
    });
    await a.prepare();
    const b = new Router({
      experts: noPoems,
      embedder: new KeywordEmbedder(),
      index,
      options: { strategy: "knn", k: 1 },
    });
    await b.prepare();
    expect(collectionNames("keywords-v1", experts.experts).examples).not.toBe(
      collectionNames("keywords-v1", noPoems.experts).examples,
    );
    expect((await index.list(collectionNames("keywords-v1", experts.experts).examples)).length).toBe(5);
    expect((await a.route("poem poem")).selected[0]!.name).toBe("creative");
  });
});

describe("Router (knn strategy)", () => {
  it("uses the mean distance of each expert's k nearest examples", async () => {
    const index = new MemoryIndex();
    const router = new Router({
      experts,
      embedder: new KeywordEmbedder(),
      index,
      options: { strategy: "knn", k: 1 },
    });
    const d = await router.route("code code code");
    expect(d.strategy).toBe("knn");
    expect(d.selected[0]!.name).toBe("code");
    // with k = 1 the nearest example of "code" is "code code": nearly the same direction
    expect(d.ranked[0]!.distance).toBeLessThan(1e-3);
    expect((await index.list(collectionNames("keywords-v1", experts.experts).examples)).length).toBe(5);
    const centroid = await router.route("code code code", { strategy: "centroid" });
    expect(centroid.strategy).toBe("centroid");
    expect(centroid.ranked[0]!.distance).toBeGreaterThan(d.ranked[0]!.distance);
  });
});
