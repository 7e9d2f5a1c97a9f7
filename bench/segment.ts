/**
 * `herd segment` throughput and peak memory on generated airoboros-style JSONL (~780 bytes a row,
 * 25 categories, 2% duplicates, 1% empty answers, 0.1% broken lines), each size in a fresh child
 * process so its peak RSS is its own. Flat RSS across sizes means constant memory.
 *
 *   npx tsx bench/segment.ts [--rows 10000,100000,500000] [--keep]
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeAiroborosDataset } from "../test/fixtures/dataset/airoboros.js";

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "10000,100000,500000" },
    keep: { type: "boolean", default: false },
  },
});

const CHILD = fileURLToPath(new URL("../test/fixtures/dataset/segment-child.ts", import.meta.url));
const EXPERTS = fileURLToPath(new URL("../experts", import.meta.url));
const dir = await mkdtemp(join(tmpdir(), "herd-bench-segment-"));
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

try {
  console.log("rows\tfile MB\tseconds\trows/s\tMB/s\tpeak RSS MB\tpeak heap MB\tdedupe table MB");
  for (const rows of args.rows.split(",").map(Number)) {
    const data = join(dir, `data-${rows}.jsonl`);
    const generated = await writeAiroborosDataset(data, rows);
    const child = spawnSync(
      process.execPath,
      ["--import", "tsx", CHILD, data, join(dir, `out-${rows}`), EXPERTS],
      {
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    if (child.status !== 0) throw new Error(child.stderr);
    const { report, maxRssBytes, peakHeapBytes } = JSON.parse(child.stdout);
    console.log(
      [
        rows,
        mb(generated.bytes),
        report.seconds.toFixed(2),
        Math.round(rows / report.seconds),
        (generated.bytes / 2 ** 20 / report.seconds).toFixed(1),
        mb(maxRssBytes),
        mb(peakHeapBytes),
        mb(report.dedupe.bytes),
      ].join("\t"),
    );
    await rm(data, { force: true });
  }
} finally {
  if (!args.keep) await rm(dir, { recursive: true, force: true });
}
