import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Hash64Set } from "../../../src/core/dataset/hash-set.js";
import { segmentDataset } from "../../../src/core/dataset/segment.js";
import { runHerd } from "../../helpers/run-cli.js";

const experts = [
  { name: "code", categories: ["coding"], examples: "examples/code.jsonl" },
  { name: "creative", categories: ["joke", "Writing"], examples: "examples/creative.jsonl" },
];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-seg-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const row = (category: string, instruction: string, response = "ok") =>
  JSON.stringify({ category, instruction, response });

describe("segmentDataset", () => {
  it("reports a bad line with its number and goes on; --strict stops there and writes nothing", async () => {
    const data = join(dir, "d.jsonl");
    await writeFile(data, [row("coding", "a"), "{oops", row("writing", "b"), ""].join("\n"));
    const report = await segmentDataset({ data, out: join(dir, "out"), experts });
    expect(report.badRows).toBe(1);
    expect(report.problems).toEqual([{ where: "line 2", problem: expect.stringMatching(/not valid JSON/) }]);
    expect(report.experts.creative!.rows).toBe(1); // "Writing" in experts.json matches "writing"
    await expect(segmentDataset({ data, out: join(dir, "strict"), experts, strict: true })).rejects.toThrow(
      /line 2: not valid JSON/,
    );
    expect(await readdir(join(dir, "strict"))).toEqual([]);
  });

  it("skips a line over the size bound, reporting its length, and reads the next one", async () => {
    const data = join(dir, "d.jsonl");
    await writeFile(data, [row("coding", "x".repeat(5000)), row("coding", "short")].join("\r\n"));
    const report = await segmentDataset({ data, out: join(dir, "out"), experts, maxRecordBytes: 1000 });
    expect(report.problems[0]).toEqual({
      where: "line 1",
      problem: expect.stringMatching(/longer than 1000 bytes/),
    });
    const alpaca = await readFile(join(dir, "out", "code.alpaca.jsonl"), "utf8");
    expect(JSON.parse(alpaca)).toEqual({ instruction: "short", input: "", output: "ok" });
  });

  it("reads a JSON array, with the same counts as JSONL", async () => {
    const data = join(dir, "d.json");
    const rows = [
      { category: "coding", instruction: "a", response: "b" },
      { category: "coding", instruction: "a", response: "b" },
      { category: "poetry", instruction: "c", response: "d" },
      { category: "__proto__", instruction: "c2", response: "d2" },
      { instruction: "e", response: "f" },
      { category: "joke", instruction: " ", response: "g" },
      42,
    ];
    await writeFile(data, JSON.stringify(rows, null, 2));
    const report = await segmentDataset({ data, out: join(dir, "out"), experts, formats: ["messages"] });
    expect(report).toMatchObject({
      format: "json-array",
      rows: 7,
      written: 1,
      duplicates: 1,
      emptyRows: 1,
      badRows: 1,
      unmappedRows: 3,
    });
    expect(Object.entries(report.unmapped)).toEqual([
      ["poetry", 1],
      ["__proto__", 1],
      ["(missing)", 1],
    ]);
    expect(report.problems).toEqual([{ where: "element 7", problem: "not a JSON object" }]);
    expect(Object.keys(report.experts.code!.files)).toEqual(["messages"]);
  });

  it("refuses a category given to two experts", async () => {
    const data = join(dir, "d.jsonl");
    await writeFile(data, row("coding", "a"));
    await expect(
      segmentDataset({
        data,
        out: join(dir, "out"),
        experts: [...experts, { name: "other", categories: ["coding"] }],
      }),
    ).rejects.toThrow(/"coding" belongs to both "code" and "other"/);
  });
});

describe("Hash64Set", () => {
  it("finds repeats, grows, and stops remembering at its bound instead of growing past it", () => {
    const set = new Hash64Set({ maxSlots: 16 });
    expect(set.add("a")).toBe(true);
    expect(set.add("a")).toBe(false);
    for (let i = 0; i < 20; i++) set.add(`t${i}`);
    expect(set.saturated).toBe(true);
    expect(set.size).toBe(12); // 3/4 of 16 slots
    expect(set.bytes).toBe(16 * 8);
  });
});

describe("herd segment", () => {
  it("splits by the experts folder's categories and prints the counts", async () => {
    const data = join(dir, "d.jsonl");
    await writeFile(data, [row("coding", "a"), row("joke", "b"), row("nope", "c")].join("\n"));
    const expertsDir = join(dir, "experts");
    await mkdir(expertsDir);
    await writeFile(join(expertsDir, "experts.json"), JSON.stringify({ baseModel: "m", experts }));
    const result = await runHerd(
      "segment",
      "--data",
      data,
      "--out",
      join(dir, "out"),
      "--experts-dir",
      expertsDir,
      "--examples",
      "3",
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/code\s+1 rows, 1 examples/);
    expect(result.stdout).toMatch(/unmapped: 1 rows: nope \(1\)/);
    expect(await readFile(join(expertsDir, "examples", "creative.jsonl"), "utf8")).toBe('{"prompt":"b"}\n');
    const bad = await runHerd(
      "segment",
      "--data",
      join(dir, "missing.jsonl"),
      "--out",
      join(dir, "o"),
      "--experts-dir",
      expertsDir,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^herd: The dataset .*missing.jsonl does not exist/);
  });

  it("--examples warns, naming the fix, when experts.json points an expert's centroid at other examples", async () => {
    const data = join(dir, "d.jsonl");
    await writeFile(data, [row("coding", "a"), row("joke", "b")].join("\n"));
    const expertsDir = join(dir, "experts");
    await mkdir(expertsDir);
    const inline = [experts[0], { ...experts[1], examples: ["Tell me a joke"] }];
    await writeFile(join(expertsDir, "experts.json"), JSON.stringify({ baseModel: "m", experts: inline }));
    const args = ["--data", data, "--out", join(dir, "out"), "--experts-dir", expertsDir, "--examples", "3"];
    const result = await runHerd("segment", ...args);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      'herd segment: warning: the centroid of "creative" does not read the sample written to examples/creative.jsonl: its experts.json "examples" are elsewhere; set "examples": "examples/creative.jsonl" to use it.\n',
    );
  });

  it("refuses an expert name that is not a file name before writing anything", async () => {
    const data = join(dir, "d.jsonl");
    await writeFile(data, row("coding", "a"));
    const expertsDir = join(dir, "experts");
    await mkdir(expertsDir);
    const bad = [{ name: "../escape", categories: ["coding"], examples: "examples/x.jsonl" }];
    await writeFile(join(expertsDir, "experts.json"), JSON.stringify({ baseModel: "m", experts: bad }));
    const run = await runHerd(
      "segment",
      "--data",
      data,
      "--out",
      join(dir, "out", "seg"),
      "--experts-dir",
      expertsDir,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^herd: .*experts\[0\]\.name "\.\.\/escape" must be lowercase letters/);
    expect(await readdir(dir)).not.toContain("out"); // nothing written, not even next to --out
  });

  it("an empty dataset prints no progress line on stderr", async () => {
    const data = join(dir, "empty.jsonl");
    await writeFile(data, "");
    const expertsDir = join(dir, "experts");
    await mkdir(expertsDir);
    await writeFile(join(expertsDir, "experts.json"), JSON.stringify({ baseModel: "m", experts }));
    const run = await runHerd(
      "segment",
      "--data",
      data,
      "--out",
      join(dir, "out"),
      "--experts-dir",
      expertsDir,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^0 rows read/);
    expect(run.stderr).toBe("");
  });

  it.each([
    [["--format", "csv"], "argument 'csv' is invalid. Allowed choices are alpaca, messages."],
    [
      ["--examples", "-1"],
      "option '--examples <n>' argument '-1' is invalid. --examples must be a positive integer.",
    ],
    [["--max-line-bytes", "0"], "argument '0' is invalid. --max-line-bytes must be a positive integer."],
    [["--seed", "1.5"], "option '--seed <n>' argument '1.5' is invalid. --seed must be an integer."],
  ])("a bad flag value %j is a usage error: exit 2, one line", async (flags, message) => {
    const run = await runHerd("segment", "--data", "d.jsonl", "--out", join(dir, "o"), ...flags);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });
});
