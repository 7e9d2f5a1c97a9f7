/**
 * The hashing embedder's tokenizer: text normalization, and a scanner that splits a normalized text
 * into words, number classes and symbol runs.
 */

const CAMEL = /(\p{Ll})(\p{Lu})/gu;
const MAX_SYMBOL_RUN = 3;

/** Unicode NFKC, camelCase split into words, lowercase. */
export function normalizeText(text: string): string {
  return text.normalize("NFKC").replace(CAMEL, "$1 $2").toLowerCase();
}

/** Splits a normalized text into tokens: words, `#<digits>` number classes and symbol runs. */
export function tokenize(text: string): string[] {
  // A token is a word (letters, inner apostrophes), a number, or a run of symbols such as `()`, `=>`,
  // `{"`: the regex /\p{L}[\p{L}\p{M}]*(?:['’]\p{L}+)*|\p{N}+(?:[.,]\p{N}+)*|[^\s\p{L}\p{N}]+/gu,
  // scanned by hand (the tests check both agree): the regex's match objects and a test per token
  // cost as much as the rest of feature extraction.
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const kind = classAt(text, i);
    if (kind === SPACE) {
      i += width(text, i);
      continue;
    }
    const start = i;
    i += width(text, i);
    if (kind === LETTER_CLASS) {
      // \p{L}[\p{L}\p{M}]*(?:['’]\p{L}+)*
      for (let c = classAt(text, i); c === LETTER_CLASS || c === MARK; c = classAt(text, i))
        i += width(text, i);
      let curly = false;
      for (;;) {
        const q = text.charCodeAt(i);
        if ((q !== 0x27 && q !== 0x2019) || classAt(text, i + 1) !== LETTER_CLASS) break;
        if (q === 0x2019) curly = true;
        i++;
        while (classAt(text, i) === LETTER_CLASS) i += width(text, i);
      }
      const token = text.slice(start, i);
      tokens.push(curly ? token.replaceAll("’", "'") : token);
    } else if (kind === NUMBER) {
      // \p{N}+(?:[.,]\p{N}+)*
      while (classAt(text, i) === NUMBER) i += width(text, i);
      for (;;) {
        const q = text.charCodeAt(i);
        if ((q !== 0x2e && q !== 0x2c) || classAt(text, i + 1) !== NUMBER) break;
        i++;
        while (classAt(text, i) === NUMBER) i += width(text, i);
      }
      // Numbers become a class by length: "7" -> #1, "42" -> #2, "1998" -> #4.
      const token = text.slice(start, i);
      const digits = token.replace(/[.,]/g, "").length;
      tokens.push(`#${Math.min(digits, 4)}${token.includes(".") || token.includes(",") ? "." : ""}`);
    } else {
      // [^\s\p{L}\p{N}]+, in pieces of at most MAX_SYMBOL_RUN code units.
      for (let c = classAt(text, i); c === MARK || c === OTHER; c = classAt(text, i)) i += width(text, i);
      for (let at = start; at < i; at += MAX_SYMBOL_RUN)
        tokens.push(text.slice(at, Math.min(at + MAX_SYMBOL_RUN, i)));
    }
  }
  return tokens;
}

// Character classes of the tokenizer: \s, \p{L}, \p{M}, \p{N}, anything else (and past the end).
const SPACE = 1;
const LETTER_CLASS = 2;
const MARK = 3;
const NUMBER = 4;
const OTHER = 5;
const END = 0;
/** The class of each BMP code unit, filled on first use (0: not yet known). */
const BMP_CLASS = new Uint8Array(0x10000);
const IS_SPACE = /^\s$/u;
const IS_LETTER = /^\p{L}$/u;
const IS_MARK = /^\p{M}$/u;
const IS_NUMBER = /^\p{N}$/u;

function classify(char: string): number {
  if (IS_LETTER.test(char)) return LETTER_CLASS;
  if (IS_NUMBER.test(char)) return NUMBER;
  if (IS_MARK.test(char)) return MARK;
  return IS_SPACE.test(char) ? SPACE : OTHER;
}

/** The class of the code point at `i` (END past the end of `text`). */
function classAt(text: string, i: number): number {
  if (i >= text.length) return END;
  const unit = text.charCodeAt(i);
  if (unit >= 0xd800 && unit <= 0xdbff) {
    const cp = text.codePointAt(i)!;
    if (cp > 0xffff) return classify(String.fromCodePoint(cp));
  }
  const known = BMP_CLASS[unit]!;
  if (known !== 0) return known;
  const kind = classify(String.fromCharCode(unit));
  BMP_CLASS[unit] = kind;
  return kind;
}

/** Code units of the code point at `i`: 2 for a surrogate pair, else 1. */
function width(text: string, i: number): number {
  const unit = text.charCodeAt(i);
  if (unit < 0xd800 || unit > 0xdbff || i + 1 >= text.length) return 1;
  const next = text.charCodeAt(i + 1);
  return next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
}

/** True for a word token (words start with a letter; number classes and symbol runs never do). */
export function isWord(token: string): boolean {
  const c = token.charCodeAt(0);
  if (c < 0x80) return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
  return classAt(token, 0) === LETTER_CLASS;
}
