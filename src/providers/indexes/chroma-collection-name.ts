import { createHash } from "node:crypto";

const VALID = /^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** True when Chroma accepts `name` as a collection name: 3-512 of [a-zA-Z0-9._-], alphanumeric at both ends. */
export function isValidChromaCollectionName(name: string): boolean {
  return VALID.test(name) && !name.includes("..") && !IPV4.test(name);
}

/**
 * The Chroma collection for a Herd collection: `prefix + name` when Chroma accepts it as is,
 * otherwise a readable, deterministic stand-in (invalid characters replaced, trimmed to length)
 * ending in 8 hex digits of the original's SHA-256, so two different names never share a collection.
 *
 * @example
 * chromaCollectionName("centroids-ollama-nomic-embed-text"); // "herd-centroids-ollama-nomic-embed-text"
 * chromaCollectionName("centroids-ollama:qwen3/embed");      // "herd-centroids-ollama-qwen3-embed-<hash>"
 */
export function chromaCollectionName(name: string, prefix = "herd-"): string {
  const raw = prefix + name;
  if (isValidChromaCollectionName(raw)) return raw;
  const hash = createHash("sha256").update(raw).digest("hex").slice(0, 8);
  const readable = raw
    .replace(/[^a-zA-Z0-9._-]+/g, "-")
    .replace(/\.{2,}/g, ".")
    .slice(0, 512 - hash.length - 1)
    .replace(/^[^a-zA-Z0-9]+|[^a-zA-Z0-9]+$/g, "");
  return readable ? `${readable}-${hash}` : hash;
}
