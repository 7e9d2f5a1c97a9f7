import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../../src/server/app.js";
import { PLAYGROUND_DIR } from "../../../src/server/playground.js";
import { listen } from "../../helpers/listen.js";
import { FakeHerd } from "./fake-herd.js";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function start(options: Parameters<typeof createApp>[1] = {}) {
  const server = await listen(createApp(new FakeHerd(), { logger: { error: () => {} }, ...options }));
  close = server.close;
  return server.url;
}

describe("the routing playground page", () => {
  it("serves the page, its script and stylesheet with their content types and a strict CSP", async () => {
    const url = await start({ apiKey: "sekret" });
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await page.text()).toContain("<title>Herd routing playground</title>");

    const script = await fetch(`${url}/ui/playground.js`);
    expect(script.headers.get("content-type")).toMatch(/^(text|application)\/javascript/);
    expect(script.headers.get("content-security-policy")).toBe(csp);
    const style = await fetch(`${url}/ui/playground.css`);
    expect(style.headers.get("content-type")).toMatch(/^text\/css/);
    // The page is open (it holds no data); the API behind it still wants the key.
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
  });

  it("has no inline scripts or styles, which the CSP would block", async () => {
    const html = await readFile(join(PLAYGROUND_DIR, "index.html"), "utf8");
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\ssrc="\/ui\//);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it("answers 404 for files that are not there, and nothing at / with ui: false", async () => {
    const url = await start();
    expect((await fetch(`${url}/ui/nope.js`)).status).toBe(404);
    expect((await fetch(`${url}/ui/../app.ts`)).status).toBe(404);
    await close?.();
    const bare = await start({ ui: false });
    expect((await fetch(`${bare}/`)).status).toBe(404);
    expect((await fetch(`${bare}/ui/playground.js`)).status).toBe(404);
  });
});
