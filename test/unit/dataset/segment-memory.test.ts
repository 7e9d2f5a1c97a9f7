import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SegmentReport } from "../../../src/core/dataset/segment.js";
import { type GeneratedDataset, writeAiroborosDataset } from "../../fixtures/dataset/airoboros.js";

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL("../../fixtures/dataset/segment-child.ts", import.meta.url));
const EXPERTS = fileURLToPath(new URL("../../../experts", import.meta.url));
/** The child's JS heap limit: far below the 100k-row file, so holding the file would crash it. */
const HEAP_LIMIT_MB = 48;

interface ChildResult {
  report: SegmentReport;
  maxRssBytes: number;
  peakHeapBytes: number;
}

async function segmentInChild(data: string, out: string): Promise<ChildResult> {
  const { stdout } = await run(
    process.execPath,
    [`--max-old-space-size=${HEAP_LIMIT_MB}`, "--import", "tsx", CHILD, data, out, EXPERTS],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as ChildResult;
}

function countLines(text: string): number {
  return text.split("\n").filter((l) => l !== "").length;
}

describe("herd segment on a 100k-row airoboros-style dataset", () => {
  let dir: string;
  const generated: Record<number, GeneratedDataset> = {};
  const results: Record<number, ChildResult> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "herd-segment-"));
    for (const rows of [10_000, 100_000]) {
      generated[rows] = await writeAiroborosDataset(join(dir, `data-${rows}.jsonl`), rows);
      results[rows] = await segmentInChild(join(dir, `data-${rows}.jsonl`), join(dir, `out-${rows}`));
    }
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("writes per-expert files whose counts match the generated rows", async () => {
    const want = generated[100_000]!;
    const { report } = results[100_000]!;
    expect(report.rows).toBe(want.rows);
    expect(report.duplicates).toBe(want.duplicates);
    expect(report.emptyRows).toBe(want.empty);
    expect(report.badRows).toBe(want.bad);
    expect(report.unmappedRows).toBe(want.unmapped);
    expect(Object.keys(report.unmapped).sort()).toEqual(["editor", "stylized_response"]);
    for (const [expert, rows] of Object.entries(want.perExpert)) {
      expect(report.experts[expert]!.rows, expert).toBe(rows);
      const alpaca = await readFile(join(dir, "out-100000", `${expert}.alpaca.jsonl`), "utf8");
      const messages = await readFile(join(dir, "out-100000", `${expert}.messages.jsonl`), "utf8");
      expect(countLines(alpaca)).toBe(rows);
      expect(countLines(messages)).toBe(rows);
    }
    expect(report.problems[0]).toEqual({
      where: "line 1000",
      problem: expect.stringContaining("not valid JSON"),
    });
  });

  it("keeps memory flat: 10x the rows (70 MB of text) costs little more RSS, under a 48 MB heap", () => {
    const small = results[10_000]!;
    const large = results[100_000]!;
    // The file is larger than the child's whole heap: a read-it-all approach dies here.
    expect(generated[100_000]!.bytes).toBeGreaterThan(HEAP_LIMIT_MB * 2 ** 20);
    const growth = large.maxRssBytes - small.maxRssBytes;
    console.log(
      `segment peak RSS: 10k rows ${(small.maxRssBytes / 2 ** 20).toFixed(1)} MB, 100k rows ${(large.maxRssBytes / 2 ** 20).toFixed(1)} MB; ` +
        `peak heap ${(small.peakHeapBytes / 2 ** 20).toFixed(1)} / ${(large.peakHeapBytes / 2 ** 20).toFixed(1)} MB; ` +
        `file ${(generated[100_000]!.bytes / 2 ** 20).toFixed(1)} MB`,
    );
    expect(growth).toBeLessThan(32 * 2 ** 20);
    expect(large.peakHeapBytes).toBeLessThan(HEAP_LIMIT_MB * 2 ** 20);
  });

  it("samples the requested examples per expert, seeded", async () => {
    const { report } = results[100_000]!;
    const code = await readFile(join(dir, "out-100000", "examples", "code.jsonl"), "utf8");
    const prompts = code
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { prompt: string }).prompt);
    expect(prompts).toHaveLength(50);
    expect(report.experts.code!.examples).toBe(50);
    expect(prompts.every((p) => p.includes("(coding)"))).toBe(true);
    const again = await readFile(join(dir, "out-10000", "examples", "code.jsonl"), "utf8");
    expect(again).not.toBe(code); // different data, different sample
  });
});
