/**
 * Feature extraction for the hashing embedder: word n-grams and character n-grams of the tokens
 * (hashing-tokens.ts), each feature named by a stable 32-bit hash.
 */
import { isWord, normalizeText, tokenize } from "./hashing-tokens.js";

/** What the feature extractor produces, per feature group: feature hash (as a signed 32-bit integer) -> count in the text. */
export interface TextFeatures {
  /** Word unigrams (minus stop words) and word n-grams (stop words kept: "how many", "write a"). */
  words: FeatureCounts;
  /** Character n-grams of each word (minus stop words), with `<` and `>` marking the word's edges. */
  chars: FeatureCounts;
  /**
   * Where the prompt starts and ends (only with `settings.lead`): the first 1, 2 and 3 tokens, the
   * first word, each word and word pair of the first sentence (at most 25 tokens) and each of the
   * last 12 tokens. What kind of task a prompt is shows most at its start ("Write", "Which of the
   * following") and end ("Show your work.", a list of options).
   */
  lead?: FeatureCounts;
}

/** The resolved settings the extractor needs. */
export interface FeatureSettings {
  /** Smallest and largest word n-gram, e.g. [1, 2]. */
  wordNgrams: readonly [number, number];
  /** Smallest and largest character n-gram, or null for none. */
  charNgrams: readonly [number, number] | null;
  /** Lowercase words left out of unigrams and character n-grams. */
  stopWords: ReadonlySet<string>;
  /** Also extract the lead group. @default false */
  lead?: boolean;
}

/**
 * A small English stop-word list (function words only; question and instruction words such as
 * "what", "how", "which", "write" are not in it: they say what kind of task a prompt is).
 */
export const ENGLISH_STOP_WORDS: readonly string[] = `
  a about above after again against all am an and any are as at be because been before being below
  between both but by can could did do does doing down during each few for from further had has
  have having he her here hers herself him himself his i if in into is it it's its itself just me
  more most my myself no nor not now of off on once only or other our ours ourselves out over own
  same she should so some such than that the their theirs them themselves then there these they
  this those through to too under until up very was we were while with would you your yours
  yourself yourselves
`
  .trim()
  .split(/\s+/);

/** FNV-1a, 32 bits, over UTF-16 code units: stable across machines and Node versions. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The murmur3 finalizer: spreads a hash's bits so that index and sign bits are independent. */
export function fmix32(hash: number): number {
  let h = hash >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const CHAR_PREFIX = fnv1a("c:");
const W1_PREFIX = fnv1a("w:");
const W2_PREFIX = fnv1a("w2:");
const S1_PREFIX = fnv1a("s1:");
const S2_PREFIX = fnv1a("s2:");
const E_PREFIX = fnv1a("e:");

/**
 * Feature counts of one text: feature hash (as a signed 32-bit integer) -> count, iterated in
 * insertion order like a `Map`. An open-addressing table in typed arrays: counting the ~1,000
 * n-grams of a prompt this way costs a fraction of `Map` updates, which dominate feature extraction.
 */
export class FeatureCounts implements Iterable<[number, number]> {
  private table: Int32Array;
  private mask: number;
  private keyList: Int32Array;
  private countList: Int32Array;
  /** Distinct features. */
  size = 0;

  /** `expected`: about how many distinct features will be counted (sizes the table; it grows anyway). */
  constructor(expected = 64) {
    let capacity = 64;
    while (capacity < expected * 2) capacity *= 2;
    this.table = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.keyList = new Int32Array(capacity / 2);
    this.countList = new Int32Array(capacity / 2);
  }

  /** Counts one more occurrence of `key`. */
  add(key: number): void {
    const k = key | 0;
    let i = spread(k) & this.mask;
    for (let at = this.table[i]!; at !== 0; at = this.table[i]!) {
      if (this.keyList[at - 1] === k) {
        this.countList[at - 1]!++;
        return;
      }
      i = (i + 1) & this.mask;
    }
    if (this.size === this.keyList.length) {
      const keys = new Int32Array(this.size * 2);
      keys.set(this.keyList);
      this.keyList = keys;
      const counts = new Int32Array(this.size * 2);
      counts.set(this.countList);
      this.countList = counts;
    }
    this.keyList[this.size] = k;
    this.countList[this.size] = 1;
    this.table[i] = ++this.size;
    if (this.size * 2 > this.table.length) this.rehash();
  }

  /** The count of `key`, or undefined. */
  get(key: number): number | undefined {
    const k = key | 0;
    let i = spread(k) & this.mask;
    for (let at = this.table[i]!; at !== 0; at = this.table[i]!) {
      if (this.keyList[at - 1] === k) return this.countList[at - 1];
      i = (i + 1) & this.mask;
    }
    return undefined;
  }

  /** The key of the `i`-th feature counted (0 <= i < size), in insertion order. */
  keyAt(i: number): number {
    return this.keyList[i]!;
  }

  /** The count of the `i`-th feature counted (0 <= i < size). */
  countAt(i: number): number {
    return this.countList[i]!;
  }

  /** Forgets every feature, keeping the memory for the next text. */
  clear(): void {
    if (this.size === 0) return;
    this.table.fill(0);
    this.size = 0;
  }

  /** Calls `callback(count, key)` for each feature, in insertion order. */
  forEach(callback: (count: number, key: number) => void): void {
    for (let i = 0; i < this.size; i++) callback(this.countList[i]!, this.keyList[i]!);
  }

  /** The feature keys, in insertion order. */
  *keys(): IterableIterator<number> {
    for (let i = 0; i < this.size; i++) yield this.keyList[i]!;
  }

  /** [key, count] pairs, in insertion order. */
  *[Symbol.iterator](): IterableIterator<[number, number]> {
    for (let i = 0; i < this.size; i++) yield [this.keyList[i]!, this.countList[i]!];
  }

  private rehash(): void {
    this.table = new Int32Array(this.table.length * 2);
    this.mask = this.table.length - 1;
    for (let n = 0; n < this.size; n++) {
      let i = spread(this.keyList[n]!) & this.mask;
      while (this.table[i] !== 0) i = (i + 1) & this.mask;
      this.table[i] = n + 1;
    }
  }
}

function spread(key: number): number {
  return Math.imul(key ^ (key >>> 15), 0x2c1b3c6d) >>> 0;
}

/**
 * Extracts the hashed features of one text. With `into`, its counts are cleared and refilled (and it
 * is returned): a caller that extracts text after text reuses the same memory.
 */
export function extractFeatures(text: string, settings: FeatureSettings, into?: TextFeatures): TextFeatures {
  const tokens = tokenize(normalizeText(text));
  const words = reuse(into?.words, 2 * tokens.length);
  const chars = reuse(into?.chars, settings.charNgrams ? 2 * text.length : 0);
  const [wMin, wMax] = settings.wordNgrams;
  for (let i = 0; i < tokens.length; i++) {
    for (let n = wMin; n <= wMax && i + n <= tokens.length; n++) {
      if (n === 1) {
        const token = tokens[i]!;
        if (!settings.stopWords.has(token)) words.add(fnv1a(token, W1_PREFIX)); // = fnv1a(`w:${token}`)
      } else {
        // fnv1a(`w${n}:${tokens.slice(i, i + n).join(" ")}`), chained without building the string.
        let h = fnv1a(tokens[i]!, n === 2 ? W2_PREFIX : fnv1a(`w${n}:`));
        for (let j = i + 1; j < i + n; j++) h = fnv1a(tokens[j]!, fnv1a(" ", h));
        words.add(h);
      }
    }
  }
  if (settings.charNgrams) {
    const [cMin, cMax] = settings.charNgrams;
    for (const token of tokens) {
      if (!isWord(token) || settings.stopWords.has(token)) continue;
      // Same values as fnv1a(`c:${gram}`) for every gram of `<token>`, without building the strings.
      const padded = `<${token}>`;
      for (let i = 0; i + cMin <= padded.length; i++) {
        let h = CHAR_PREFIX;
        for (let n = 1; n <= cMax && i + n <= padded.length; n++) {
          h = Math.imul(h ^ padded.charCodeAt(i + n - 1), 0x01000193) >>> 0;
          if (n >= cMin) chars.add(h);
        }
      }
    }
  }
  const lead = settings.lead ? leadFeatures(tokens, into?.lead) : undefined;
  if (into) {
    into.lead = lead;
    return into;
  }
  return lead ? { words, chars, lead } : { words, chars };
}

function reuse(counts: FeatureCounts | undefined, expected: number): FeatureCounts {
  if (!counts) return new FeatureCounts(expected);
  counts.clear();
  return counts;
}

const FIRST_SENTENCE_TOKENS = 25;
const LAST_TOKENS = 12;
const SENTENCE_END = /[.?!]/;

/** The lead group of a token list (see `TextFeatures.lead`), counted into `into` (cleared first) when given. */
export function leadFeatures(tokens: readonly string[], into?: FeatureCounts): FeatureCounts {
  const lead = reuse(into, 2 * Math.min(tokens.length, 40));
  for (let n = 1; n <= 3 && n <= tokens.length; n++) lead.add(fnv1a(`l${n}:${tokens.slice(0, n).join(" ")}`));
  const firstWord = tokens.find(isWord);
  if (firstWord !== undefined) lead.add(fnv1a(`lw:${firstWord}`));
  let end = 0;
  while (end < tokens.length && end < FIRST_SENTENCE_TOKENS) {
    if (SENTENCE_END.test(tokens[end++]!)) break;
  }
  for (let i = 0; i < end; i++) {
    lead.add(fnv1a(tokens[i]!, S1_PREFIX));
    if (i + 1 < end) lead.add(fnv1a(tokens[i + 1]!, fnv1a(" ", fnv1a(tokens[i]!, S2_PREFIX))));
  }
  for (let i = Math.max(0, tokens.length - LAST_TOKENS); i < tokens.length; i++)
    lead.add(fnv1a(tokens[i]!, E_PREFIX));
  return lead;
}
