import { randomUUID } from "node:crypto";
import { inject } from "vitest";

/** The URL of the Chroma server started by test/setup/global-setup.ts (or HERD_TEST_CHROMA_URL). */
export function chromaUrl(): string {
  const url = inject("chromaUrl") ?? process.env.HERD_TEST_CHROMA_URL;
  if (!url) {
    throw new Error(
      "No Chroma server for this test: run it in the `integration` project (vitest --project integration).",
    );
  }
  return url;
}

/** A collection name no other test (or earlier run against the same server) uses. */
export function uniqueCollection(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}
