import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoConfig } from "../../src/cli/commands/serve-demo.js";
import { renderHtmlReport } from "../../src/core/eval-report/index.js";
import { evaluateRouter } from "../../src/core/evaluation.js";
import type { Router } from "../../src/core/router.js";
import { createHerd, type Herd } from "../../src/herd.js";
import { MetricsPlugin } from "../../src/plugins/metrics/index.js";
import { createApp } from "../../src/server/app.js";
import { launchChromium } from "../helpers/browser.js";
import { listen } from "../helpers/listen.js";

/** Where the screenshot goes; HERD_PLAYGROUND_SCREENSHOT=docs/playground.png refreshes the README's. */
const SCREENSHOT = process.env.HERD_PLAYGROUND_SCREENSHOT;

/**
 * The playground in a real headless Chromium against the offline demo (a generated tiny llama
 * model with one real LoRA per expert on llama.cpp), behind an API key: nothing mocked.
 */
describe("routing playground in Chromium (herd serve --demo)", () => {
  let herd: Herd;
  let server: Awaited<ReturnType<typeof listen>>;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    const config = await demoConfig({});
    herd = await createHerd({ ...config, plugins: ["expert-override", "metrics"] });
    const metrics = herd.plugins.find((p): p is MetricsPlugin => p instanceof MetricsPlugin);
    server = await listen(createApp(herd, { apiKey: "demo-key", metrics }));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1180, height: 900 } });
    // A CSP violation or a script error shows up here: the test fails on any.
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await herd?.close();
  });

  it("asks for the key, routes a prompt, draws every expert's bars and streams the answer", async () => {
    const response = await page.goto(`${server.url}/`);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
    await expect.poll(() => page.textContent("#status")).toMatch(/needs an API key/);
    // The failed /v1/models call (401 before the key) is the one expected console error (no 404 for
    // a /favicon.ico the browser asks for by itself).
    expect(problems.filter((p) => !p.includes("status of 401"))).toEqual([]);
    problems.length = 0;

    await page.fill("#api-key", "not-the-key");
    await page.click("#key-form button");
    await expect.poll(() => page.textContent("#status")).toMatch(/refused this API key/);
    problems.length = 0; // its 401, as expected

    await page.fill("#api-key", "demo-key");
    await page.click("#key-form button");
    await page.waitForSelector("#expert option[value=code]", { state: "attached" });

    // A prompt between two experts, so the linear router blends two (code ~0.98, creative ~0.02).
    await page.fill("#prompt", "Write a short poem that explains how a Python list is reversed");
    await page.fill("#top-experts", "2");
    await page.fill("#max-tokens", "24");
    await page.click("#send");
    await expect.poll(() => page.textContent("#status"), { timeout: 60_000 }).toBe("Done.");

    const bars = await page.$$eval(".bar", (rows) =>
      rows.map((row) => ({
        expert: row.getAttribute("data-expert"),
        selected: row.classList.contains("selected"),
        score: row.querySelector(".fill.score")!.getBoundingClientRect().width,
        weight: row.querySelector(".fill.weight")!.getBoundingClientRect().width,
      })),
    );
    expect(bars).toHaveLength(herd.experts.length);
    expect(bars[0]).toMatchObject({ expert: "code", selected: true });
    expect(bars.filter((b) => b.selected)).toHaveLength(2);
    // The demo routes with `linear`: the score is each expert's probability, ranked highest first.
    expect(await page.textContent("#score-label")).toMatch(/probability/);
    expect(bars[0]!.score).toBeGreaterThan(0);
    for (let i = 1; i < bars.length; i++) expect(bars[i]!.score).toBeLessThanOrEqual(bars[i - 1]!.score);
    expect(bars.filter((b) => b.weight > 0)).toHaveLength(2);
    expect(await page.textContent("#chosen")).toMatch(/Model herd-blend-code-\w+|code \d+% \+ \w+ \d+%/);
    expect((await page.textContent("#answer"))!.length).toBeGreaterThan(0);

    // The live view lists the request (from the metrics plugin).
    await expect.poll(() => page.$$eval("#recent tr", (rows) => rows.length)).toBeGreaterThan(0);
    expect(await page.textContent("#recent tr")).toMatch(/code \d+% \+ \w+ \d+%.*routed/);

    const shot = await page.screenshot({ fullPage: true });
    expect(shot.byteLength).toBeGreaterThan(10_000);
    if (SCREENSHOT) await writeFile(SCREENSHOT, shot);
    expect(problems).toEqual([]);
  });

  it("forces an expert and asks the base model from the controls", async () => {
    await page.selectOption("#expert", "reasoning");
    await page.fill("#top-experts", "1");
    await page.click("#send");
    await expect.poll(() => page.textContent("#status"), { timeout: 60_000 }).toBe("Done.");
    expect(await page.textContent("#chosen")).toMatch(/reasoning 100% · forced/);

    await page.check("#base-only");
    await page.click("#send");
    await expect.poll(() => page.textContent("#status"), { timeout: 60_000 }).toBe("Done.");
    expect(await page.textContent("#chosen")).toMatch(/base model · base-only/);
    expect(await page.$$eval(".bar.selected", (rows) => rows.length)).toBe(0);
    expect(problems).toEqual([]);
  });

  it("opens the eval report and shows the confusion matrix", async () => {
    const data = herd.experts.flatMap((e) =>
      e.examples.slice(0, 3).map((prompt) => ({ prompt, expert: e.name })),
    );
    const report = await evaluateRouter(herd.router as Router, data);
    const dir = await mkdtemp(join(tmpdir(), "herd-report-"));
    const file = join(dir, "report.html");
    await writeFile(file, renderHtmlReport(report));
    const reportPage = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    try {
      await reportPage.goto(pathToFileURL(file).href);
      const cells = await reportPage.$$eval("table.matrix td", (tds) =>
        tds.map((td) => ({
          labeled: td.getAttribute("data-labeled"),
          routed: td.getAttribute("data-routed"),
          n: Number(td.textContent),
          // In the page, where getComputedStyle exists (the test's own types have no DOM).
          background: (
            globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }
          ).getComputedStyle(td).backgroundColor,
          visible: td.getBoundingClientRect().width > 0,
        })),
      );
      expect(cells.length).toBeGreaterThanOrEqual(herd.experts.length ** 2);
      expect(cells.every((c) => c.visible)).toBe(true);
      for (const name of report.labels) {
        const diagonal = cells.find((c) => c.labeled === name && c.routed === name)!;
        expect(diagonal.n).toBe(report.confusion[name]![name]);
        // A non-empty cell is coloured (the heat map), an empty one is not.
        if (diagonal.n > 0) expect(diagonal.background).not.toBe("rgba(0, 0, 0, 0)");
      }
      expect(await reportPage.textContent(".accuracy")).toBe(`${(report.accuracy * 100).toFixed(1)}%`);
      expect(await reportPage.$$eval("svg.coverage polyline", (l) => l.length)).toBe(2);
      if (SCREENSHOT)
        await reportPage.screenshot({ path: SCREENSHOT.replace(/\.png$/, "-report.png"), fullPage: true });
    } finally {
      await reportPage.close();
    }
  });
});
