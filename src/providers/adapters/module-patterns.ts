import { RE2JS } from "re2js";
import { FileFormatError } from "../../core/errors.js";

/** The longest `rank_pattern`/`alpha_pattern` key accepted. PEFT writes module paths, well under this. */
export const MAX_PATTERN_LENGTH = 1_000;
/** The most keys one pattern map may hold (one per module at most, in practice). */
export const MAX_PATTERNS = 100_000;
/** Module paths longer than this never match a pattern (real ones are under 200 characters). */
const MAX_MODULE_LENGTH = 1_000;

/** A literal key: word characters, `-` and escaped dots, e.g. `v_proj` or `layers\.0\.self_attn\.v_proj`. */
const LITERAL = /^(?:[\w-]|\\\.)+$/;

/** A compiled `rank_pattern` or `alpha_pattern`. */
export interface ModulePatterns {
  /** The value of the first key that matches the module path, if any. */
  match(module: string): number | undefined;
}

type Matcher = (module: string) => boolean;

/**
 * Compiles PEFT's per-module patterns: a key matches a module path that it matches in full, or
 * whose end it matches after a `.` (PEFT's `re.match(rf"(.*\.)?({key})$", path)`). Literal keys are
 * compared as strings; the others run on RE2 (re2js), which matches in linear time, so a key such
 * as `(a+)+b` cannot take exponential time. A key that is too long or not valid RE2 syntax
 * (backreferences, lookaround) is a FileFormatError naming the file, the map and the key.
 */
export function compileModulePatterns(
  patterns: Readonly<Record<string, number>>,
  field: string,
  file: string,
): ModulePatterns {
  const keys = Object.keys(patterns);
  const refuse = (key: string, why: string) =>
    new FileFormatError(
      `Invalid PEFT adapter config "${file}": ${field} key ${JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}...` : key)} ${why}.`,
      file,
    );
  if (keys.length > MAX_PATTERNS) {
    throw new FileFormatError(
      `Invalid PEFT adapter config "${file}": ${field} has ${keys.length} keys; at most ${MAX_PATTERNS} are accepted.`,
      file,
    );
  }
  const matchers: [Matcher, number][] = keys.map((key) => {
    if (key.length > MAX_PATTERN_LENGTH) {
      throw refuse(key, `is ${key.length} characters long; at most ${MAX_PATTERN_LENGTH} are accepted`);
    }
    const value = patterns[key]!;
    if (LITERAL.test(key)) {
      const literal = key.replaceAll("\\.", ".");
      return [(module) => module === literal || module.endsWith(`.${literal}`), value];
    }
    let compiled: RE2JS;
    try {
      compiled = RE2JS.compile(`(?:.*\\.)?(?:${key})`);
    } catch (error) {
      throw refuse(
        key,
        `is not a regular expression Herd can match safely (${(error as Error).message}); use a plain module path or suffix`,
      );
    }
    return [(module) => compiled.matches(module), value];
  });
  return {
    match(module) {
      if (module.length > MAX_MODULE_LENGTH) return undefined;
      for (const [matches, value] of matchers) if (matches(module)) return value;
      return undefined;
    },
  };
}
