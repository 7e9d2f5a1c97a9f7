import { describe, expect, it } from "vitest";
import { AbortError, ConfigError, InvalidInputError } from "../../../src/core/errors.js";
import { cosineSimilarity, norm } from "../../../src/core/vector-math.js";
import { HashingEmbedder } from "../../../src/providers/embedders/hashing.js";

const corpus = [
  "Write a Python function that reverses a linked list.",
  "Implement binary search in JavaScript and explain its complexity.",
  "Fix this SQL query: SELECT name FROM users WHERE age > 30 GROUP BY city;",
  "Write a short poem about the autumn rain.",
  "Tell me a joke about penguins.",
  "Compose a folk song about a lighthouse keeper.",
  "How many minutes are in a week? Reason step by step.",
  "A train travels 60 km in 45 minutes. What is its average speed? Show your work.",
  "What is the capital of Portugal?",
  "Which planet is known as the red planet?",
];

describe("HashingEmbedder", () => {
  it("gives the same id and the same vectors in every instance, whatever the corpus order", async () => {
    const a = HashingEmbedder.fit(corpus);
    const b = HashingEmbedder.fit([...corpus].reverse());
    expect(b.id).toBe(a.id);
    const texts = ["Write a haiku about the sea", "def add(a, b): return a + b"];
    const [va, vb] = [await a.embed(texts), await b.embed(texts)];
    expect(vb).toEqual(va);
  });

  it("names its settings in the id, and changes the id when any setting or the corpus changes", () => {
    const base = HashingEmbedder.fit(corpus);
    expect(base.id).toMatch(/^hashing-v1-d8192-w1-2-c3-5-[0-9a-f]{8}$/);
    expect(new HashingEmbedder().id).toMatch(/^hashing-v1-d8192-w1-2-c3-5-[0-9a-f]{8}$/);
    const variants = [
      new HashingEmbedder(),
      HashingEmbedder.fit(corpus, { dimension: 1024 }),
      HashingEmbedder.fit(corpus, { wordNgrams: [1, 3] }),
      HashingEmbedder.fit(corpus, { charNgrams: [2, 4] }),
      HashingEmbedder.fit(corpus, { charNgrams: false }),
      HashingEmbedder.fit(corpus, { stopWords: "english" }),
      HashingEmbedder.fit(corpus, { weights: { chars: 0.3 } }),
      HashingEmbedder.fit(corpus, { minDocumentFrequency: 1 }),
      HashingEmbedder.fit(corpus, { center: false }),
      HashingEmbedder.fit([...corpus, "One more example prompt."]),
    ];
    const ids = new Set([base.id, ...variants.map((e) => e.id)]);
    expect(ids.size).toBe(variants.length + 1);
    expect(variants[1]!.id).toContain("-d1024-");
    expect(variants[2]!.id).toContain("-w1-3-c3-5-");
    expect(variants[4]!.id).toContain("-w1-2-c0-");
  });

  it("returns unit-length vectors of the announced dimension, fitted or not", async () => {
    for (const embedder of [new HashingEmbedder({ dimension: 512 }), HashingEmbedder.fit(corpus)]) {
      const dim = await embedder.dimension();
      const vectors = await embedder.embed(["Hello there!", "x", "???", "Ünïcödé 文字 and emoji 🎉"]);
      for (const v of vectors) {
        expect(v).toBeInstanceOf(Float32Array);
        expect(v.length).toBe(dim);
        expect(norm(v)).toBeCloseTo(1, 5);
      }
    }
  });

  it("still embeds a text whose features never occur in the corpus", async () => {
    const [v] = await HashingEmbedder.fit(corpus).embed(["zxqv"]);
    expect(norm(v!)).toBeCloseTo(1, 5);
  });

  it("puts texts about the same task closer together than unrelated texts", async () => {
    for (const embedder of [new HashingEmbedder(), HashingEmbedder.fit(corpus)]) {
      const [code1, code2, poem] = await embedder.embed([
        "Write a Python function that sorts a list of numbers.",
        "Write a Python function to sort a list of strings by length.",
        "Compose a sad poem about the ocean at night.",
      ]);
      expect(cosineSimilarity(code1!, code2!)).toBeGreaterThan(cosineSimilarity(code1!, poem!) + 0.1);
    }
  });

  it("matches typos and word forms through character n-grams", async () => {
    const texts = ["programming languages", "programing langauge", "weather report"];
    const [a, typo, other] = await new HashingEmbedder().embed(texts);
    expect(cosineSimilarity(a!, typo!)).toBeGreaterThan(cosineSimilarity(a!, other!) + 0.1);
    const [wordsOnlyA, wordsOnlyTypo] = await new HashingEmbedder({ charNgrams: false }).embed(texts);
    expect(cosineSimilarity(wordsOnlyA!, wordsOnlyTypo!)).toBeCloseTo(0, 1);
  });

  it("keeps code symbols and camelCase parts as features", async () => {
    const embedder = new HashingEmbedder({ charNgrams: false });
    const [add, mul, prose] = await embedder.embed([
      "const add = (a, b) => a + b;",
      "const mul = (x, y) => x * y;",
      "add a and b together",
    ]);
    expect(cosineSimilarity(add!, mul!)).toBeGreaterThan(cosineSimilarity(add!, prose!));
    const [camel, words] = await embedder.embed(["getUserName", "get user name"]);
    expect(cosineSimilarity(camel!, words!)).toBeCloseTo(1, 5);
  });

  it("embeds a batch exactly like one text at a time", async () => {
    const embedder = HashingEmbedder.fit(corpus);
    const texts = ["What is 2 + 2?", "Tell me a story about a dragon.", "SELECT * FROM t;"];
    const batch = await embedder.embed(texts);
    const single = await Promise.all(texts.map(async (t) => (await embedder.embed([t]))[0]));
    expect(batch).toEqual(single);
    expect(await embedder.embed([])).toEqual([]);
  });

  it("rejects an empty or whitespace-only text with an error naming the text and the fix", async () => {
    const embedder = new HashingEmbedder();
    for (const blank of ["", "  \n\t "]) {
      const error = await embedder.embed(["fine", blank]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).param).toBe("texts[1]");
      expect((error as Error).message).toMatch(/empty text \(texts\[1\]\).*non-whitespace/);
    }
  });

  it("stops when the signal is aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(new HashingEmbedder().embed(["hi"], { signal: controller.signal })).rejects.toBeInstanceOf(
      AbortError,
    );
  });

  it("rejects invalid settings with a ConfigError naming the field", () => {
    const bad: [() => unknown, string][] = [
      [() => new HashingEmbedder({ dimension: 0 }), "embedder.options.dimension"],
      [() => new HashingEmbedder({ dimension: 100.5 }), "embedder.options.dimension"],
      [() => new HashingEmbedder({ wordNgrams: [2, 1] }), "embedder.options.wordNgrams"],
      [() => new HashingEmbedder({ charNgrams: [0, 3] }), "embedder.options.charNgrams"],
      [() => new HashingEmbedder({ weights: { chars: -1 } }), "embedder.options.weights.chars"],
      [() => new HashingEmbedder({ weights: { words: 0 }, charNgrams: false }), "embedder.options.weights"],
      [() => new HashingEmbedder({ minDocumentFrequency: -1 }), "embedder.options.minDocumentFrequency"],
      [() => HashingEmbedder.fit(["", "   "]), "embedder.options.corpus"],
    ];
    for (const [make, field] of bad) {
      const error = (() => {
        try {
          make();
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe(field);
    }
  });
});
