import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { freePort, type RunningChroma, startChroma } from "../../scripts/chroma-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The Chroma server the integration tests use, e.g. `http://127.0.0.1:41234`. */
    chromaUrl: string;
  }
}

/**
 * Global setup of the `integration` project: starts one real Chroma server on a free port with a
 * temporary data folder for the whole run and stops it afterwards. Set HERD_TEST_CHROMA_URL to use
 * a server that is already running instead.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const existing = process.env.HERD_TEST_CHROMA_URL;
  if (existing) {
    project.provide("chromaUrl", existing.replace(/\/+$/, ""));
    return async () => {};
  }
  const dataDir = mkdtempSync(join(tmpdir(), "herd-chroma-"));
  let server: RunningChroma;
  try {
    server = await startChroma({
      port: await freePort(),
      path: join(dataDir, "data"),
      logFile: join(dataDir, "chroma.log"),
      log: (line) => process.stderr.write(`[chroma] ${line}\n`),
    });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  // A crashed or interrupted run must not leave the server behind.
  const killOnExit = () => {
    try {
      process.kill(server.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  };
  process.once("exit", killOnExit);
  process.env.HERD_TEST_CHROMA_URL = server.url;
  project.provide("chromaUrl", server.url);
  return async () => {
    process.off("exit", killOnExit);
    delete process.env.HERD_TEST_CHROMA_URL;
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
