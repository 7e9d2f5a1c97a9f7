import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import type { HerdConfigInput } from "../../src/core/config.js";
import { createHerd, type Herd } from "../../src/herd.js";
import { createApp } from "../../src/server/app.js";
import { LlamaServerStandIn } from "../fixtures/engines/llama-server-stand-in.js";
import { LoraxStandIn } from "../fixtures/engines/lorax-stand-in.js";
import { serveStandIn } from "../fixtures/engines/serve-stand-in.js";
import { VllmStandIn } from "../fixtures/engines/vllm-stand-in.js";
import { listen } from "../helpers/listen.js";
import { engineExperts } from "./engine-herd.js";

/**
 * End to end: `herd experts add|remove` edits experts.json, POST /admin/experts/reload applies it,
 * and the engine provider serves (or refuses) the change: official openai client -> `herd serve`'s
 * app -> the engine provider -> a loopback engine stand-in.
 */

const KEY = "sk-admin-key";
const ASTRO_PROMPT = "How many moons does Jupiter have, and which telescope found them?";
const astro = {
  name: "astro",
  description: "Astronomy",
  categories: ["astronomy"],
  adapter: "adapters/astro.gguf",
  model: "herd-astro",
  examples: [
    ASTRO_PROMPT,
    "Why do the planets orbit the Sun in the same plane?",
    "What telescope photographed the moons of Saturn and the rings of Jupiter?",
  ],
};
type ExpertEntry = (typeof engineExperts.experts)[number];

interface Served {
  herd: Herd;
  url: string;
  openai: OpenAI;
  dir: string;
  /** Rewrites experts.json (as `herd experts add|remove` does) and POSTs the reload. */
  reload(experts: ExpertEntry[]): Promise<{ status: number; body: Record<string, unknown> }>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(engine: VllmStandIn | LlamaServerStandIn | LoraxStandIn, provider: object) {
  const engineServer = await serveStandIn(engine);
  cleanups.push(engineServer.close);
  const dir = await mkdtemp(join(tmpdir(), "herd-engine-reload-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const write = (experts: ExpertEntry[]) =>
    writeFile(join(dir, "experts.json"), JSON.stringify({ baseModel: engineExperts.baseModel, experts }));
  await write(engineExperts.experts);
  const herd = await createHerd({
    expertsDir: dir,
    provider: { ...provider, url: engineServer.url } as HerdConfigInput["provider"],
    embedder: { name: "hashing" },
    index: { name: "memory" },
  });
  cleanups.push(() => herd.close());
  const server = await listen(createApp(herd, { apiKey: KEY, logger: { error: () => {} } }));
  cleanups.push(server.close);
  const served: Served = {
    herd,
    url: server.url,
    dir,
    openai: new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 }),
    reload: async (experts) => {
      await write(experts);
      const response = await fetch(`${server.url}/admin/experts/reload`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: "{}",
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
  };
  return served;
}

const withAstro = [...engineExperts.experts, astro];
const without = (name: string, list = withAstro) => list.filter((e) => e.name !== name);
const ask = (s: Served, model: string, content = "hi") =>
  s.openai.chat.completions.create({ model, messages: [{ role: "user", content }] }).withResponse();
/** The status a request ends with: 200, or the error's. */
const statusOf = (s: Served, model: string) =>
  ask(s, model).then(
    () => 200,
    (e: unknown) => (e as { status: number }).status,
  );

describe("vLLM: POST /admin/experts/reload", () => {
  const ASTRO_CODE = [75, 50, 25].map((p) => `herd-blend-astro-code-${p}-${100 - p}`);

  it("loads a new expert's adapter at run time (adapterDir), routes to it, and stops offering a removed one", async () => {
    const engine = new VllmStandIn({
      adapters: ["herd-code", "herd-math", "herd-creative"],
      runtimeLoading: true,
      adapterFolders: ["herd-astro", ...ASTRO_CODE].map((n) => `/data/adapters/${n}`),
    });
    const s = await serve(engine, { name: "vllm", adapterDir: "/data/adapters" });
    const before = engine.requests.length;
    const added = await s.reload(withAstro);
    expect(added).toMatchObject({ status: 200, body: { added: ["astro"], removed: [] } });
    const loads = engine.requests.slice(before).filter((r) => r.path === "/v1/load_lora_adapter");
    expect(loads[0]?.body).toEqual({ lora_name: "herd-astro", lora_path: "/data/adapters/herd-astro" });
    // The new expert's blends: only the new ones are tried, the built ones loaded, the others reported.
    expect(loads).toHaveLength(1 + 9);
    expect(engine.adapters).toEqual(expect.arrayContaining(ASTRO_CODE));
    expect(added.body.warnings).toEqual([
      expect.stringMatching(
        /could not load 6 blend adapter\(s\) from \/data\/adapters \(herd-blend-astro-creative-75-25/,
      ),
    ]);
    const forced = await ask(s, "herd:astro");
    expect(forced.data.choices[0]?.message.content).toContain("Answer from herd-astro:");
    const routed = await ask(s, "herd", ASTRO_PROMPT);
    expect(routed.response.headers.get("x-herd-model")).toBe("herd-astro");
    expect(engine.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)?.body.model).toBe(
      "herd-astro",
    );

    const removed = await s.reload(without("creative"));
    expect(removed).toMatchObject({ status: 200, body: { removed: ["creative"] } });
    expect(await statusOf(s, "herd:creative")).toBe(404);
    const models = await s.openai.models.list();
    expect(models.data.map((m) => m.id)).not.toContain("herd:creative");
    const haiku = await ask(s, "herd", "Write a haiku about autumn leaves");
    expect(haiku.response.headers.get("x-herd-model")).not.toBe("herd-creative");
  });

  it("refuses a reload whose new expert vLLM does not serve, naming --lora-modules, and changes nothing", async () => {
    const engine = new VllmStandIn({ adapters: ["herd-code", "herd-math", "herd-creative"] });
    const s = await serve(engine, { name: "vllm" });
    const refused = await s.reload(withAstro);
    expect(refused.status).toBe(409);
    const error = refused.body.error as { code: string; message: string };
    expect(error.code).toBe("experts_not_served");
    expect(error.message).toMatch(
      /does not serve the adapter of expert "astro" \(herd-astro\).*unchanged.*herd-astro=<adapters>\/herd-astro to --lora-modules/,
    );
    expect(s.herd.experts.map((e) => e.name)).toEqual(["code", "math", "creative"]);
    expect(await statusOf(s, "herd:astro")).toBe(404);
    // Once vLLM serves it (restarted with the module), the same reload goes through.
    engine.adapters.push("herd-astro");
    expect(await s.reload(withAstro)).toMatchObject({ status: 200, body: { added: ["astro"] } });
    expect((await ask(s, "herd:astro")).data.choices[0]?.message.content).toContain("herd-astro");
  });
});

describe("llama-server: POST /admin/experts/reload", () => {
  const FILES = ["code.gguf", "math.gguf", "creative.gguf"].map((f) => `/models/${f}`);

  it("finds a new expert's adapter id, sends its scale, and follows a restart that dropped a removed expert", async () => {
    // llama-server was (re)started with the new expert's --lora before the reload.
    const adapters = [...FILES, "/models/astro.gguf"];
    const engine = new LlamaServerStandIn({ adapters });
    const s = await serve(engine, { name: "llama-server" });
    expect(await s.reload(withAstro)).toMatchObject({ status: 200, body: { added: ["astro"] } });
    const forced = await ask(s, "herd:astro");
    expect(forced.data.choices[0]?.message.content).toContain("Answer from lora 3@1:");
    expect(engine.lastLora).toEqual([
      { id: 0, scale: 0 },
      { id: 1, scale: 0 },
      { id: 2, scale: 0 },
      { id: 3, scale: 1 },
    ]);

    // Restarted without math's --lora (ids shift), then math leaves experts.json.
    adapters.splice(1, 1);
    expect(await s.reload(without("math"))).toMatchObject({ status: 200, body: { removed: ["math"] } });
    expect((await fetch(`${s.url}/health`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(
      200,
    );
    await ask(s, "herd:astro");
    expect(engine.lastLora).toEqual([
      { id: 0, scale: 0 },
      { id: 1, scale: 0 },
      { id: 2, scale: 1 },
    ]);
    expect(await statusOf(s, "herd:math")).toBe(404);
  });

  it("a request in flight during a reload finishes with the adapters it started with", async () => {
    const engine = new LlamaServerStandIn({ adapters: [...FILES, "/models/astro.gguf"] });
    const s = await serve(engine, { name: "llama-server" });
    let release!: () => void;
    engine.hold = new Promise<void>((r) => {
      release = r;
    });
    const stream = await s.openai.chat.completions.create({
      model: "herd:code",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    const chunks = stream[Symbol.asyncIterator]();
    let text = (await chunks.next()).value?.choices[0]?.delta.content ?? "";
    expect(await s.reload(without("code"))).toMatchObject({
      status: 200,
      body: { added: ["astro"], removed: ["code"] },
    });
    engine.hold = undefined;
    release();
    for (let c = await chunks.next(); !c.done; c = await chunks.next())
      text += c.value.choices[0]?.delta.content ?? "";
    expect(text).toBe("Answer from lora 0@1: the quick brown fox jumps over the lazy dog.");
    expect((await ask(s, "herd:astro")).data.choices[0]?.message.content).toContain("Answer from lora 3@1:");
    expect(await statusOf(s, "herd:code")).toBe(404);
  });

  it("refuses a reload whose new expert's file llama-server has not loaded, naming the --lora to restart with", async () => {
    const engine = new LlamaServerStandIn({ adapters: FILES });
    const s = await serve(engine, { name: "llama-server" });
    const refused = await s.reload(withAstro);
    expect(refused.status).toBe(409);
    expect((refused.body.error as { message: string }).message).toMatch(
      new RegExp(
        `has not loaded the adapter of expert "astro" \\(${s.dir}/adapters/astro.gguf\\).*unchanged.*restart it adding --lora ${s.dir}/adapters/astro.gguf`,
      ),
    );
    expect(s.herd.experts.map((e) => e.name)).toEqual(["code", "math", "creative"]);
    const code = await ask(s, "herd:code");
    expect(code.data.choices[0]?.message.content).toContain("Answer from lora 0@1:");
  });
});

describe("LoRAX: POST /admin/experts/reload", () => {
  const DIR = "/data/adapters";

  it("asks LoRAX for a new expert's adapter before routing to it, and serves it by its adapter id", async () => {
    const engine = new LoraxStandIn({
      adapters: ["herd-code", "herd-math", "herd-creative", "herd-astro"].map((n) => `${DIR}/${n}`),
    });
    const s = await serve(engine, { name: "lorax", adapterDir: DIR });
    expect(await s.reload(withAstro)).toMatchObject({
      status: 200,
      body: { added: ["astro"], warnings: [] },
    });
    const probe = engine.requests.find((r) => r.path === "/v1/chat/completions");
    expect(probe?.body).toMatchObject({ model: `${DIR}/herd-astro`, max_tokens: 1, adapter_source: "local" });
    await ask(s, "herd:astro");
    expect(engine.requests.at(-1)?.body.model).toBe(`${DIR}/herd-astro`);
  });

  it("refuses a reload whose new adapter LoRAX cannot load, naming herd build --engine lorax", async () => {
    const engine = new LoraxStandIn({
      adapters: ["herd-code", "herd-math", "herd-creative"].map((n) => `${DIR}/${n}`),
    });
    const s = await serve(engine, { name: "lorax", adapterDir: DIR });
    const refused = await s.reload(withAstro);
    expect(refused.status).toBe(409);
    expect((refused.body.error as { message: string }).message).toMatch(
      /cannot load the adapter of expert "astro" \(\/data\/adapters\/herd-astro: .*No local weights.*unchanged.*herd build --engine lorax/,
    );
    expect(await statusOf(s, "herd:astro")).toBe(404);
  });
});

describe("an engine that cannot be reached during a reload", () => {
  it("applies the reload, as start-up does, with a warning naming the unchecked expert", async () => {
    const engine = new VllmStandIn({ adapters: ["herd-code", "herd-math", "herd-creative"] });
    const s = await serve(engine, { name: "vllm" });
    const down = cleanups.at(0)!; // the engine's server
    await down();
    const reload = await s.reload(withAstro);
    expect(reload.status).toBe(200);
    expect(reload.body.added).toEqual(["astro"]);
    expect((reload.body.warnings as string[])[0]).toMatch(
      /Could not check that vLLM serves "astro": Cannot reach vLLM.*reload again once it answers/,
    );
  });
});
