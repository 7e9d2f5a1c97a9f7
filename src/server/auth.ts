import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { AuthenticationError } from "./http-errors.js";

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Checks `Authorization: Bearer <key>` against the configured key, in constant time.
 * Returns a function that throws `AuthenticationError` (401) when the key is missing or wrong.
 */
export function bearerAuth(apiKey: string): (req: IncomingMessage) => void {
  const expected = digest(apiKey);
  return (req) => {
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match) {
      throw new AuthenticationError(
        "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (the key given to herd serve --api-key); OpenAI clients send their apiKey this way.",
      );
    }
    const given = match[1]!;
    if (!timingSafeEqual(digest(given), expected)) {
      throw new AuthenticationError(
        `Incorrect API key provided: ${mask(given)}. Use the key given to herd serve --api-key.`,
      );
    }
  };
}

/** `sk-abc***xyz`: enough to recognise a key, not enough to use it. */
function mask(key: string): string {
  const printable = key.replace(/[^\x20-\x7e]/g, "?");
  if (printable.length <= 8) return "***";
  return `${printable.slice(0, 3)}***${printable.slice(-3)}`;
}
