import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendTimeoutError } from "../../../src/core/errors.js";
import { ChromaIndex } from "../../../src/providers/indexes/chroma.js";
import { type StallingBackend, startStallingBackend } from "../../helpers/stalling-backend.js";

describe("ChromaIndex against a Chroma that accepts connections and then stalls", () => {
  let backend: StallingBackend;
  beforeAll(async () => {
    backend = await startStallingBackend("no-headers");
    backend.stallHealth = true;
  });
  afterAll(() => backend.close());

  it("fails the heartbeat and a query with a timeout error within timeouts.firstByteMs", async () => {
    const index = new ChromaIndex({ url: backend.url, timeouts: { firstByteMs: 300 } });
    for (const call of [() => index.health(), () => index.query("c", new Float32Array([1, 0]), 3)]) {
      const start = performance.now();
      const error = await call().catch((e: unknown) => e);
      const ms = performance.now() - start;
      expect(error).toBeInstanceOf(BackendTimeoutError);
      expect((error as Error).message).toMatch(
        new RegExp(`^Chroma at ${backend.url.replace(/\./g, "\\.")} did not answer in time`),
      );
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(3000);
    }
  });
});
