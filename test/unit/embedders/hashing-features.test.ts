import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadExpertSet } from "../../../src/core/experts.js";
import { LinearModel } from "../../../src/core/routing/linear-model.js";
import { HashingEmbedder } from "../../../src/providers/embedders/hashing.js";
import {
  ENGLISH_STOP_WORDS,
  extractFeatures,
  type FeatureSettings,
} from "../../../src/providers/embedders/hashing-features.js";
import { normalizeText, tokenize } from "../../../src/providers/embedders/hashing-tokens.js";
import { referenceFeatures, referenceTokenize } from "../../helpers/reference-features.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const { experts } = await loadExpertSet(resolve(repo, "experts"));
const examples = experts.flatMap((e) => e.examples);

/** Texts that exercise every branch of the tokenizer: marks, apostrophes, numbers, symbol runs, astral characters. */
const TRICKY = [
  "Don’t stop: it's 3.14, 1,000,000.5 or 42! camelCaseWords and HTTPServer2Go",
  "naïve café — Ｆｕｌｌｗｉｄｔｈ ＡＢＣ ① ½ Ⅻ ٣٤ 𝟘𝟙 𝐀𝐁 𝒳",
  "e\u0301clair a\u0301\u0301b 'quoted' ’curly’ rock'n'roll o'' l'\u0301a ab'1",
  '=> {"a": [1, 2]} ((( ))) ---- *** /* */ <<<>>> \u0301\u0301\u0301\u0301 ==!==',
  "日本語のテキスト、句読点。한국어 텍스트! Привет, мир? שלום עולם. مرحبا بالعالم",
  "emoji 🎉🎉 text 👩‍💻 lone \ud800 surrogate \udc00 end\u00a0nbsp\u2003em\u3000ideo\ufeffbom",
  "1. 2, 3.. .5 5. ,7 1.2.3 1,2,3 9999999 ٠١٢.٣",
  "   ",
  "a",
  "x".repeat(500),
  "Which of the following is true? (A) one (B) two (C) three. Show your work.",
];

/** A seeded mix of the characters the tokenizer treats differently, joined at random. */
function fuzzTexts(count: number): string[] {
  const alphabet = [
    "a",
    "Z",
    "é",
    "\u0301",
    "’",
    "'",
    ".",
    ",",
    "?",
    "!",
    "1",
    "٣",
    "½",
    " ",
    "\t",
    "\n",
    "\u00a0",
    "-",
    "#",
    "<",
    "日",
    "𝟙",
    "𝐀",
    "🎉",
    "\ud800",
    "ß",
    "İ",
    "Σ",
    "ǅ",
    "x",
    "yZ",
  ];
  let seed = 12345;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  return Array.from({ length: count }, () =>
    Array.from({ length: 1 + (next() % 60) }, () => alphabet[next() % alphabet.length]).join(""),
  );
}

const TEXTS = [...examples, ...TRICKY, ...fuzzTexts(3000)];

const SETTINGS: Record<string, FeatureSettings> = {
  default: { wordNgrams: [1, 2], charNgrams: [3, 5], stopWords: new Set() },
  english: { wordNgrams: [1, 3], charNgrams: [2, 4], stopWords: new Set(ENGLISH_STOP_WORDS) },
  noChars: { wordNgrams: [2, 3], charNgrams: null, stopWords: new Set(["the"]) },
};

describe("hashing feature extraction", () => {
  it("tokenizes exactly like the regex tokenizer, on every expert example and on tricky and random texts", () => {
    for (const text of TEXTS) expect(tokenize(normalizeText(text)), text).toEqual(referenceTokenize(text));
  });

  it("extracts exactly the reference features, counts and order, under several settings", () => {
    for (const [name, settings] of Object.entries(SETTINGS)) {
      for (const text of TEXTS) {
        const got = extractFeatures(text, { ...settings, lead: true });
        const want = referenceFeatures(text, settings);
        expect([...got.words], `${name}: ${text}`).toEqual([...want.words]);
        expect([...got.chars], `${name}: ${text}`).toEqual(settings.charNgrams ? [...want.chars] : []);
        expect([...got.lead!], `${name}: ${text}`).toEqual([...want.lead]);
      }
    }
  });

  it("gives the sparse TF-IDF features of the plain reference computation, bit for bit", () => {
    const embedder = HashingEmbedder.fit(examples);
    const settings = SETTINGS.default!;
    const sorted = examples.filter((t) => t.trim() !== "").sort();
    const df = new Map<number, number>();
    for (const text of sorted) {
      const f = referenceFeatures(text, settings);
      for (const key of new Set([...f.words.keys(), ...f.chars.keys(), ...f.lead.keys()]))
        df.set(key, (df.get(key) ?? 0) + 1);
    }
    const idf = (key: number) => {
      const count = df.get(key) ?? 0;
      return count >= 2 ? Math.log((1 + sorted.length) / (1 + count)) + 1 : undefined;
    };
    for (const text of [...examples.slice(0, 300), ...TRICKY]) {
      const f = referenceFeatures(text, settings);
      const keys: number[] = [];
      const values: number[] = [];
      for (const [group, weight] of [
        [f.words, 1],
        [f.chars, 0.8],
        [f.lead, 0.7],
      ] as const) {
        const from = values.length;
        let sum = 0;
        for (const [key, tf] of group) {
          const w = idf(key);
          if (w === undefined) continue;
          const v = tf === 1 ? w : (1 + Math.log(tf)) * w;
          keys.push(key);
          values.push(v);
          sum += v * v;
        }
        if (sum === 0) {
          keys.length = from;
          values.length = from;
          continue;
        }
        for (let i = from; i < values.length; i++) values[i]! *= weight / Math.sqrt(sum);
      }
      let sum = 0;
      for (const v of values) sum += v * v;
      const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
      const got = embedder.sparseFeatures(text);
      expect(Array.from(got.keys), text).toEqual(keys);
      expect(Array.from(got.values), text).toEqual(values.map((v) => v * scale));
    }
  });

  it("gives each text the same sparse features and linear probabilities however many texts came before", () => {
    const embedder = HashingEmbedder.fit(examples);
    const texts = [...examples.slice(0, 200), ...TRICKY];
    const first = texts.map((t) => embedder.sparseFeatures(t));
    const again = [...texts].reverse().map((t) => embedder.sparseFeatures(t));
    again.reverse();
    for (let i = 0; i < texts.length; i++) {
      expect(Array.from(again[i]!.keys)).toEqual(Array.from(first[i]!.keys));
      expect(Array.from(again[i]!.values)).toEqual(Array.from(first[i]!.values));
    }
    // Models over the first texts' keys (1 expert, up to 8, more than 8), scored by the model and by a plain loop.
    const keys = [...new Set(first.flatMap((f) => Array.from(f.keys)))];
    for (const K of [1, 6, 9]) {
      const weights = Float32Array.from({ length: keys.length * K }, (_, i) => Math.sin(i) * 0.5);
      const bias = Float32Array.from({ length: K }, (_, k) => k / 10);
      const model = new LinearModel({
        classes: Array.from({ length: K }, (_, k) => `e${k}`),
        keys: Int32Array.from(keys),
        rows: keys.length,
        weights,
        bias,
        temperature: 0.7,
      });
      const row = new Map(keys.map((key, j) => [key, j]));
      for (const features of first) {
        const z = Array.from(bias, Number);
        for (let e = 0; e < features.keys.length; e++) {
          const j = row.get(features.keys[e]!)!;
          for (let k = 0; k < K; k++) z[k]! += features.values[e]! * weights[j * K + k]!;
        }
        const logits = model.logitsSparse(features);
        expect(Array.from(logits)).toEqual(z);
        expect(Array.from(model.probabilities(logits))).toEqual(Array.from(model.probabilities(z)));
      }
    }
  });
});
