/**
 * Herd's router inside an existing Express app: route only, no generation. Your app decides what
 * to do with the decision (pick a queue, a prompt template, a downstream service...).
 *
 * Runs offline (hashing embedder, in-memory index): npx tsx examples/express-routing.ts
 */
import type { AddressInfo } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
import { createHerd, type Herd, HerdError } from "../src/index.js";
import { EXPERTS_DIR, type ExampleOptions, isMain } from "./shared.js";

/** Adds `POST /route {"prompt": "...", "topExperts"?: n}` to an app. */
export function addRouting(app: express.Express, herd: Herd): void {
  app.post("/route", express.json(), async (req: Request, res: Response) => {
    const { prompt, topExperts } = req.body as { prompt?: unknown; topExperts?: number };
    if (typeof prompt !== "string" || prompt.trim() === "") {
      res.status(400).json({ error: 'Send {"prompt": "<text>"}.' });
      return;
    }
    const decision = await herd.route(prompt, topExperts === undefined ? {} : { topExperts });
    res.json({
      expert: decision.selected[0]?.name ?? null,
      model: decision.model,
      reason: decision.reason,
      experts: decision.selected.map(({ name, weight, similarity }) => ({ name, weight, similarity })),
    });
  });
  // Herd's errors carry an HTTP status and a message that says how to fix the request.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = HerdError.isInstance(error) ? error.status : 500;
    res.status(status).json({ error: error instanceof Error ? error.message : String(error) });
  });
}

export async function main({ log = console.log, expertsDir = EXPERTS_DIR }: ExampleOptions = {}) {
  const herd = await createHerd({
    expertsDir,
    embedder: { name: "hashing" },
    index: { name: "memory" },
  });
  const app = express();
  app.get("/", (_req, res) => void res.send("an existing app"));
  addRouting(app, herd);
  const server = app.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const results = [];
    for (const prompt of [
      "Write a Python function that merges two sorted lists.",
      "Write a poem about the sea at night.",
    ]) {
      const reply = await fetch(`${url}/route`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt, topExperts: 2 }),
      });
      const body = (await reply.json()) as { expert: string; experts: { name: string; weight: number }[] };
      log(`${prompt} -> ${body.experts.map((e) => `${e.name} ${e.weight.toFixed(2)}`).join(", ")}`);
      results.push({ prompt, ...body });
    }
    const bad = await fetch(`${url}/route`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    return { results, badStatus: bad.status };
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await herd.close();
  }
}

if (isMain(import.meta.url)) await main();
