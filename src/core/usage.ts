import type { Usage } from "./chat.js";

/** True for a token count a backend may report: a whole number, 0 or more. */
function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Token usage from the two counts a backend reported, or `undefined` when either is missing or not
 * a whole number: a count Herd does not have is never filled in (a 0 would be billed as real).
 */
export function tokenUsage(inputTokens: unknown, outputTokens: unknown): Usage | undefined {
  return isCount(inputTokens) && isCount(outputTokens) ? { inputTokens, outputTokens } : undefined;
}

/**
 * The usage of several answers (the `n` choices of one request): the sum when every one has
 * counts, else `undefined`, so a real count is never added to a missing one as if it were 0.
 */
export function sumUsage(usages: Iterable<Usage | undefined>): Usage | undefined {
  let inputTokens = 0;
  let outputTokens = 0;
  for (const usage of usages) {
    if (!usage) return undefined;
    inputTokens += usage.inputTokens;
    outputTokens += usage.outputTokens;
  }
  return { inputTokens, outputTokens };
}

/**
 * The warning an answer gets when its backend reported no token counts (LoRAX before v0.11 in a
 * stream, a proxy that drops them): the usage is left out, not guessed.
 */
export function missingUsageWarning(provider: string): string {
  return `Chat provider "${provider}" reported no token usage for this answer: usage is left out, not guessed (see README "Token usage").`;
}
