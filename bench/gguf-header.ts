/**
 * Reading hostile GGUF headers (issue 10 item 11): time and peak memory of `readGgufHeader` on a
 * 64 MB metadata byte array, 8 M one-byte strings (72 MB) and arrays nested 200,000 deep.
 *
 *   npx tsx bench/gguf-header.ts
 *
 * Each case runs in a fresh child process, so its peak RSS is its own.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readGgufHeader } from "../src/providers/gguf/reader.js";
import { writeDeeplyNested, writeHugeByteArray, writeHugeStringArray } from "../test/helpers/crafted-gguf.js";

const child = process.argv[2];
if (child) {
  const started = performance.now();
  let outcome: string;
  try {
    const header = await readGgufHeader(child);
    outcome = `read, ${header.metadata.size} keys`;
  } catch (error) {
    outcome = `${(error as Error).name}: ${(error as Error).message.slice(0, 110)}`;
  }
  const ms = performance.now() - started;
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(`${ms.toFixed(0).padStart(7)} ms  peak RSS ${rss.toFixed(0).padStart(5)} MB  ${outcome}`);
} else {
  const dir = await mkdtemp(join(tmpdir(), "herd-bench-gguf-"));
  try {
    const cases: [string, (path: string) => Promise<void>][] = [
      ["64 MB u8 array", (p) => writeHugeByteArray(p, 64 * 1024 * 1024)],
      ["8 M strings", (p) => writeHugeStringArray(p, 8 * 1024 * 1024)],
      ["200k nested arrays", (p) => writeDeeplyNested(p, 200_000)],
    ];
    for (const [name, write] of cases) {
      const path = join(dir, `${name.replace(/\W+/g, "-")}.gguf`);
      await write(path);
      const run = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), path], {
        encoding: "utf8",
        timeout: 600_000,
      });
      process.stdout.write(
        `${name.padEnd(20)} ${run.stdout.trim() || run.stderr.trim().split("\n").at(-1)}\n`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
