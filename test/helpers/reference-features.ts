import { fnv1a } from "../../src/providers/embedders/hashing-features.js";

/**
 * The hashing embedder's feature extraction written the plain way (regex tokenizer, every n-gram
 * built as a string, counts in a Map): what the optimized extractor in
 * src/providers/embedders/hashing-features.ts must reproduce exactly, feature for feature, in the
 * same order, so that routing decisions do not change.
 */
const TOKEN = /\p{L}[\p{L}\p{M}]*(?:['’]\p{L}+)*|\p{N}+(?:[.,]\p{N}+)*|[^\s\p{L}\p{N}]+/gu;
const CAMEL = /(\p{Ll})(\p{Lu})/gu;
const LETTER = /^\p{L}/u;
const DIGIT = /^\p{N}/u;

export function referenceTokenize(text: string): string[] {
  const tokens: string[] = [];
  for (const match of text.normalize("NFKC").replace(CAMEL, "$1 $2").toLowerCase().matchAll(TOKEN)) {
    const token = match[0];
    if (LETTER.test(token)) {
      tokens.push(token.replaceAll("’", "'"));
    } else if (DIGIT.test(token)) {
      const digits = token.replace(/[.,]/g, "").length;
      tokens.push(`#${Math.min(digits, 4)}${token.includes(".") || token.includes(",") ? "." : ""}`);
    } else {
      for (let i = 0; i < token.length; i += 3) tokens.push(token.slice(i, i + 3));
    }
  }
  return tokens;
}

export interface ReferenceFeatures {
  words: Map<number, number>;
  chars: Map<number, number>;
  lead: Map<number, number>;
}

export function referenceFeatures(
  text: string,
  settings: {
    wordNgrams: readonly [number, number];
    charNgrams: readonly [number, number] | null;
    stopWords: ReadonlySet<string>;
  },
): ReferenceFeatures {
  const tokens = referenceTokenize(text);
  const count = (map: Map<number, number>, name: string) => {
    const h = fnv1a(name) | 0;
    map.set(h, (map.get(h) ?? 0) + 1);
  };
  const words = new Map<number, number>();
  const [wMin, wMax] = settings.wordNgrams;
  for (let i = 0; i < tokens.length; i++) {
    for (let n = wMin; n <= wMax && i + n <= tokens.length; n++) {
      if (n === 1) {
        if (!settings.stopWords.has(tokens[i]!)) count(words, `w:${tokens[i]}`);
      } else {
        count(words, `w${n}:${tokens.slice(i, i + n).join(" ")}`);
      }
    }
  }
  const chars = new Map<number, number>();
  if (settings.charNgrams) {
    const [cMin, cMax] = settings.charNgrams;
    for (const token of tokens) {
      if (!LETTER.test(token) || settings.stopWords.has(token)) continue;
      const padded = `<${token}>`;
      for (let i = 0; i + cMin <= padded.length; i++) {
        for (let n = cMin; n <= cMax && i + n <= padded.length; n++)
          count(chars, `c:${padded.slice(i, i + n)}`);
      }
    }
  }
  const lead = new Map<number, number>();
  for (let n = 1; n <= 3 && n <= tokens.length; n++) count(lead, `l${n}:${tokens.slice(0, n).join(" ")}`);
  const firstWord = tokens.find((t) => LETTER.test(t));
  if (firstWord !== undefined) count(lead, `lw:${firstWord}`);
  let end = 0;
  while (end < tokens.length && end < 25) {
    if (/[.?!]/.test(tokens[end++]!)) break;
  }
  for (let i = 0; i < end; i++) {
    count(lead, `s1:${tokens[i]}`);
    if (i + 1 < end) count(lead, `s2:${tokens[i]} ${tokens[i + 1]}`);
  }
  for (let i = Math.max(0, tokens.length - 12); i < tokens.length; i++) count(lead, `e:${tokens[i]}`);
  return { words, chars, lead };
}
