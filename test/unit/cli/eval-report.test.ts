import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { copyRepoExperts } from "../../helpers/repo-experts.js";
import { runHerd } from "../../helpers/run-cli.js";

// Routing trains into the experts folder: a private copy keeps the working tree's experts/ untouched.
const experts = await copyRepoExperts();
afterAll(() => experts.remove());
const EXPERTS = experts.dir;

/** Labeled prompts over the bundled experts, the last one labeled against the obvious expert. */
const rows = [
  { prompt: "Write a Python function that reverses a list", expert: "code" },
  { prompt: "Fix this JavaScript bug: undefined is not a function", expert: "code" },
  { prompt: "Write a poem about the autumn sea", expert: "creative" },
  { prompt: "Tell me a short story about a dragon", expert: "creative" },
  { prompt: "Prove that the square root of 2 is irrational", expert: "reasoning" },
  { prompt: "Write a <b>haiku</b> about snow & ice", expert: "code" },
];

/** A prompt from a log that carries terminal escape sequences (a window title, an OSC 52 clipboard write). */
const ESCAPES =
  "\u001b]0;owned\u0007\u001b]52;c;ZWNobyBoaQ==\u0007Write a poem about the autumn sea \u009b31m";

async function dataFile(): Promise<{ dir: string; data: string }> {
  const dir = await mkdtemp(join(tmpdir(), "herd-eval-"));
  const data = join(dir, "data.jsonl");
  await writeFile(data, rows.map((r) => JSON.stringify(r)).join("\n"));
  return { dir, data };
}

describe("herd eval --report and --format", () => {
  it("writes a self-contained HTML report with the matrix, bars, curve and escaped misrouted prompts", async () => {
    const { dir, data } = await dataFile();
    const report = join(dir, "report.html");
    const run = await runHerd("eval", "--experts-dir", EXPERTS, "--data", data, "--report", report);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`HTML report written to ${report}`);
    const html = await readFile(report, "utf8");
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<table class="matrix">');
    expect(html).toMatch(/data-labeled="code" data-routed="code"[^>]*>2</);
    expect(html).toContain('class="scores"');
    expect(html).toContain('<polyline class="accuracy"');
    // The misrouted haiku is listed, its markup escaped, never live.
    expect(html).toContain("Write a &lt;b&gt;haiku&lt;/b&gt; about snow &amp; ice");
    expect(html).not.toContain("<b>haiku</b>");
    // Nothing external, nothing executable.
    expect(html).not.toMatch(/<script|src=|href=/i);
  });

  it("prints no terminal control characters from prompts in Markdown", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-eval-"));
    const data = join(dir, "data.jsonl");
    await writeFile(
      data,
      [...rows, { prompt: ESCAPES, expert: "code" }].map((r) => JSON.stringify(r)).join("\n"),
    );
    const md = await runHerd("eval", "--experts-dir", EXPERTS, "--data", data, "--format", "markdown");
    expect(md.code).toBe(0);
    expect(md.stdout).toContain("Write a poem about the autumn sea");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
    expect(md.stdout).not.toMatch(/[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/);
  });

  it("prints Markdown for CI logs and the new fields in JSON", async () => {
    const { data } = await dataFile();
    const md = await runHerd("eval", "--experts-dir", EXPERTS, "--data", data, "--format", "markdown");
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^## Herd routing evaluation/);
    expect(md.stdout).toMatch(/\n\| code \| 0 \| 1 \| 2 \| 0 \| 0 \| 0 \|\n/);
    // The mislabeled haiku is the one prompt routed away from its label.
    expect(md.stdout).toContain("### Misrouted prompts (1)");
    // Markup in a prompt stays text in rendered Markdown.
    expect(md.stdout).toContain("| Write a &lt;b&gt;haiku&lt;/b&gt; about snow & ice | code | creative |");

    const json = await runHerd("eval", "--experts-dir", EXPERTS, "--data", data, "--format", "json");
    const report = JSON.parse(json.stdout);
    expect(json.stderr).toBe("");
    expect(report.predictions).toHaveLength(rows.length);
    expect(report.predictions[5]).toMatchObject({ expert: "code", routed: "creative" });
    expect(report.predictions[0].confidence).toBeGreaterThan(1 / 6);
    expect(report.accuracy).toBe(5 / 6);
    expect(report.coverage[0]).toEqual({ threshold: 0, coverage: 1, accuracy: 5 / 6 });
    // The curve's thresholds are 0, 0.05, ..., 0.95; at each, only prompts at least that confident are routed.
    const confidences: number[] = report.predictions.map((p: { confidence: number }) => p.confidence);
    expect(report.coverage.map((c: { threshold: number }) => c.threshold)).toEqual(
      Array.from({ length: 20 }, (_, i) => i / 20),
    );
    for (const point of report.coverage) {
      const kept = confidences.filter((c) => c >= point.threshold).length;
      expect(point.coverage).toBeCloseTo(kept / rows.length, 12);
    }
    expect(report.ece).toBeGreaterThanOrEqual(0);
    expect(report.ece).toBeLessThanOrEqual(1);
  });

  it("refuses --json with another --format", async () => {
    const { data } = await dataFile();
    const run = await runHerd(
      "eval",
      "--experts-dir",
      EXPERTS,
      "--data",
      data,
      "--json",
      "--format",
      "markdown",
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("herd: --json and --format markdown disagree; pick one. (see herd --help)\n");
  });
});
