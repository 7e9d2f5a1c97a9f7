import { InvalidInputError } from "./errors.js";
import type { RouteInput, RoutingTextMode } from "./routing.js";

/**
 * The default cap on the text the router embeds: the first and the last 4,000 characters of a longer
 * text. The start of a prompt usually says what is asked and the end what to do with it; embedding
 * megabytes would cost seconds of CPU for the same decision.
 */
export const DEFAULT_MAX_ROUTING_CHARS = 8_000;

/**
 * Picks the text of a prompt or chat that the router embeds, capped at `maxChars` characters (the
 * first and the last `maxChars / 2`, joined by a newline), so routing costs the same for any prompt
 * size. Throws on an empty prompt.
 */
export function routingText(
  input: RouteInput,
  mode: RoutingTextMode = "last-user",
  maxChars = DEFAULT_MAX_ROUTING_CHARS,
): string {
  let text: string;
  if (typeof input === "string") {
    text = input;
  } else if (mode === "all") {
    text = input.map((m) => m.content).join("\n");
  } else {
    const users = input.filter((m) => m.role === "user" || m.role === "human");
    if (mode === "all-user") text = users.map((m) => m.content).join("\n");
    else text = (users.at(-1) ?? input.at(-1))?.content ?? "";
  }
  if (text.trim() === "") {
    throw new InvalidInputError(
      typeof input === "string"
        ? "The prompt is empty: give some text to route."
        : "There is no text to route: send at least one non-empty user message.",
      typeof input === "string" ? "prompt" : "messages",
    );
  }
  return capText(text, maxChars);
}

/** The first and last `maxChars / 2` characters of a longer text, never splitting a surrogate pair. */
export function capText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const half = Math.floor(maxChars / 2);
  let headEnd = half;
  if (isHighSurrogate(text.charCodeAt(headEnd - 1))) headEnd--;
  let tailStart = text.length - (maxChars - half);
  if (isLowSurrogate(text.charCodeAt(tailStart))) tailStart++;
  return `${text.slice(0, headEnd)}\n${text.slice(tailStart)}`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
