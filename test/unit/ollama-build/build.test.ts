import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpResponse, http, passthrough } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  FileFormatError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../../src/core/errors.js";
import type { ExpertSet } from "../../../src/core/expert.js";
import { openAdapter } from "../../../src/providers/adapters/open-adapter.js";
import { gguf, writeGguf } from "../../../src/providers/gguf/index.js";
import { type BuildEvent, buildOllamaModels } from "../../../src/providers/ollama-build/build.js";
import { moduleDelta, relativeError, writeRandomAdapter } from "../adapters/random-adapters.js";
import { MockOllama } from "./mock-ollama.js";

const URL = "http://127.0.0.1:11434";
const ollama = new MockOllama(URL);
const server = setupServer(...ollama.handlers());
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterAll(() => server.close());

let dir: string;
let expertsDir: string;
const names = ["code", "qa", "reasoning"];
const experts: ExpertSet = {
  baseModel: "llama3.2:3b",
  experts: names.map((name) => ({
    name,
    description: `the ${name} expert`,
    categories: [],
    adapter: `adapters/${name}.gguf`,
    model: `herd-${name}`,
    examples: ["x"],
  })),
};
const shape = [{ name: "blk.0.attn_q.weight", rank: 2, inFeatures: 8, outFeatures: 8 }];

async function writeAdapters(seedOffset = 0, only = names) {
  for (const [i, name] of names.entries()) {
    if (!only.includes(name)) continue;
    await writeRandomAdapter(join(expertsDir, "adapters", `${name}.gguf`), "gguf", shape, {
      seed: i + 1 + seedOffset,
      alpha: 4,
    });
  }
}

function build(extra: Partial<Parameters<typeof buildOllamaModels>[1]> = {}) {
  const events: BuildEvent[] = [];
  const run = buildOllamaModels(experts, {
    expertsDir,
    outDir: join(dir, "Modelfiles"),
    grid: 0.5,
    ollamaUrl: URL,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { run, events };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-build-"));
  expertsDir = join(dir, "experts");
  await mkdir(join(expertsDir, "adapters"), { recursive: true });
  ollama.blobs.clear();
  ollama.models.clear();
  ollama.seen.length = 0;
  ollama.createOverride = undefined;
});
afterEach(async () => {
  server.resetHandlers();
  await rm(dir, { recursive: true, force: true });
});

/** A GGUF "base model" with the one tensor the test adapters change, [in, out] = [size, 8]. */
async function writeBase(size: number) {
  await writeGguf(join(expertsDir, "base.gguf"), {
    metadata: new Map([["general.architecture", gguf.string("llama")]]),
    tensors: [{ name: "blk.0.attn_q.weight", dims: [size, 8], data: new Float32Array(size * 8) }],
  });
}

const sha = async (path: string) =>
  `sha256:${createHash("sha256")
    .update(await readFile(path))
    .digest("hex")}`;

describe("herd build against Ollama", () => {
  it("merges the blends, uploads each adapter blob and creates every model with streamed progress", async () => {
    await writeAdapters();
    const { run, events } = build();
    const report = await run;

    expect(report.created).toEqual([
      "herd-base",
      "herd-code",
      "herd-qa",
      "herd-reasoning",
      "herd-blend-code-qa-50-50",
      "herd-blend-code-reasoning-50-50",
      "herd-blend-qa-reasoning-50-50",
    ]);
    expect(ollama.calls("POST", "/api/blobs")).toHaveLength(6);
    const creates = ollama.calls("POST", "/api/create").map((c) => c.body);
    expect(creates[0]).toEqual({ model: "herd-base", from: "llama3.2:3b", stream: true });
    expect(creates[1]).toEqual({
      model: "herd-code",
      from: "llama3.2:3b",
      adapters: { "code.gguf": await sha(join(expertsDir, "adapters", "code.gguf")) },
      stream: true,
    });
    const merged = join(expertsDir, "adapters", "merged", "blend-code-qa-50-50.gguf");
    expect(creates[4]).toEqual({
      model: "herd-blend-code-qa-50-50",
      from: "llama3.2:3b",
      adapters: { "blend-code-qa-50-50.gguf": await sha(merged) },
      stream: true,
    });
    expect(events).toContainEqual({
      type: "progress",
      model: "herd-code",
      progress: { status: "writing manifest" },
    });
    expect(events).toContainEqual({ type: "progress", model: "herd-code", progress: { status: "success" } });
    // The base, missing on the server, was pulled once, before the first create, with its progress.
    expect(ollama.calls("POST", "/api/pull").map((c) => c.body)).toEqual([
      { name: "llama3.2:3b", stream: true },
    ]);
    expect(ollama.seen.findIndex((r) => r.path === "/api/pull")).toBeLessThan(
      ollama.seen.findIndex((r) => r.path === "/api/create"),
    );
    expect(events).toContainEqual({
      type: "progress",
      model: "herd-base",
      progress: expect.objectContaining({
        status: "pulling dde5aa3fc5ff",
        total: 2019377376,
        completed: 2019377376,
      }),
    });

    // The blend adapter is the exact 50/50 merge of the two experts.
    const [code, qa, blend] = await Promise.all(
      [join(expertsDir, "adapters", "code.gguf"), join(expertsDir, "adapters", "qa.gguf"), merged].map(
        openAdapter,
      ),
    );
    const qaDelta = await moduleDelta(qa!, shape[0]!.name);
    const expected = (await moduleDelta(code!, shape[0]!.name)).map((v, i) => 0.5 * v + 0.5 * qaDelta[i]!);
    expect(relativeError(await moduleDelta(blend!, shape[0]!.name), expected)).toBeLessThan(1e-5);
    await Promise.all([code!.close(), qa!.close(), blend!.close()]);

    const modelfile = await readFile(join(dir, "Modelfiles", "Modelfile.blend-code-qa-50-50"), "utf8");
    expect(modelfile).toContain(
      "FROM llama3.2:3b\nADAPTER ../experts/adapters/merged/blend-code-qa-50-50.gguf\n",
    );
  });

  it("is idempotent: an unchanged rebuild merges, uploads and creates nothing; a changed adapter rebuilds only what uses it", async () => {
    await writeAdapters();
    await build().run;
    ollama.seen.length = 0;

    const again = await build().run;
    expect(again.created).toEqual([]);
    expect(again.merged).toEqual([]);
    expect(again.unchanged).toHaveLength(7);
    expect(ollama.seen.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /api/tags"]);

    await writeAdapters(100, ["qa"]);
    const changed = await build().run;
    expect(changed.created).toEqual(["herd-qa", "herd-blend-code-qa-50-50", "herd-blend-qa-reasoning-50-50"]);
    expect(changed.merged.map((p) => p.split("/").at(-1))).toEqual([
      "blend-code-qa-50-50.gguf",
      "blend-qa-reasoning-50-50.gguf",
    ]);
  });

  it("creates a model again when it was deleted from the server", async () => {
    await writeAdapters();
    await build().run;
    ollama.models.delete("herd-code:latest");
    const report = await build().run;
    expect(report.created).toEqual(["herd-code"]);
    expect(ollama.calls("POST", "/api/blobs")).toHaveLength(6);
  });

  it("reports a 400 before the stream with the model name and Ollama's message", async () => {
    await writeAdapters();
    ollama.createOverride = (body) =>
      body.model === "herd-qa"
        ? HttpResponse.json({ error: "only one adapter is currently supported" }, { status: 400 })
        : undefined;
    const error = await build().run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as Error).message).toBe(
      `Cannot create "herd-qa": Ollama at ${URL} answered 400 for /api/create: only one adapter is currently supported`,
    );
  });

  it('reports an {"error":...} line in the middle of the stream', async () => {
    await writeAdapters();
    ollama.createOverride = () =>
      new HttpResponse('{"status":"parsing GGUF"}\n{"error":"supplied file was not in GGUF format"}\n', {
        headers: { "Content-Type": "application/x-ndjson" },
      });
    const { run, events } = build();
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as Error).message).toBe(
      `Ollama at ${URL} failed to create "herd-base": supplied file was not in GGUF format`,
    );
    expect(events).toContainEqual({
      type: "progress",
      model: "herd-base",
      progress: { status: "parsing GGUF" },
    });
  });

  it("names the URL and the fix when Ollama is not running", async () => {
    await writeAdapters();
    server.use(http.all("http://127.0.0.1:9/*", () => passthrough()));
    const error = await build({ ollamaUrl: "http://127.0.0.1:9" }).run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toMatch(
      /^Cannot reach Ollama at http:\/\/127\.0\.0\.1:9 \((ECONNREFUSED|network error)\)\. Start it with `ollama serve`/,
    );
  });

  it("--dry-run writes every Modelfile and lists the missing adapters without calling Ollama", async () => {
    await writeAdapters(0, ["code"]);
    const report = await build({ dryRun: true, ollamaUrl: "http://127.0.0.1:9" }).run;
    expect(report.missing).toEqual([
      join(expertsDir, "adapters", "qa.gguf"),
      join(expertsDir, "adapters", "reasoning.gguf"),
    ]);
    expect((await readdir(join(dir, "Modelfiles"))).sort()).toEqual([
      "Modelfile.base",
      "Modelfile.blend-code-qa-50-50",
      "Modelfile.blend-code-reasoning-50-50",
      "Modelfile.blend-qa-reasoning-50-50",
      "Modelfile.code",
      "Modelfile.qa",
      "Modelfile.reasoning",
    ]);
    expect(ollama.seen).toEqual([]);
  });

  it("refuses to build with missing adapters, naming them", async () => {
    await writeAdapters(0, ["code", "qa"]);
    const error = await build().run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileFormatError);
    expect((error as Error).message).toContain(
      `Missing adapter or model files: ${join(expertsDir, "adapters", "reasoning.gguf")}`,
    );
    expect(ollama.seen).toEqual([]);
  });

  it("uploads a GGUF base model as a blob and builds FROM its file", async () => {
    await writeAdapters();
    await writeBase(8);
    const report = await buildOllamaModels(
      { ...experts, baseModel: "base.gguf" },
      {
        expertsDir,
        outDir: join(dir, "Modelfiles"),
        grid: 0.5,
        pairs: [["code", "qa"]],
        ollamaUrl: URL,
        chat: { template: "{{ .Prompt }}", parameters: { stop: "<|endoftext|>", temperature: 0.2 } },
      },
    );
    expect(report.created).toEqual([
      "herd-base",
      "herd-code",
      "herd-qa",
      "herd-reasoning",
      "herd-blend-code-qa-50-50",
    ]);
    const base = ollama.calls("POST", "/api/create")[0]!.body;
    expect(base).toEqual({
      model: "herd-base",
      files: { "base.gguf": await sha(join(expertsDir, "base.gguf")) },
      template: "{{ .Prompt }}",
      parameters: { stop: ["<|endoftext|>"], temperature: 0.2 },
      stream: true,
    });
    expect(await readFile(join(dir, "Modelfiles", "Modelfile.base"), "utf8")).toContain(
      'FROM ../experts/base.gguf\nTEMPLATE """{{ .Prompt }}"""\nPARAMETER stop <|endoftext|>\nPARAMETER temperature 0.2\n',
    );
  });

  it("checks the expert adapters against a GGUF base before calling Ollama", async () => {
    await writeAdapters();
    await writeBase(16);
    const error = await buildOllamaModels(
      { ...experts, baseModel: "base.gguf" },
      { expertsDir, outDir: join(dir, "Modelfiles"), ollamaUrl: URL },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileFormatError);
    expect((error as Error).message).toMatch(
      /Adapter ".*code\.gguf" changes "blk\.0\.attn_q\.weight" as ne \[8, 8\] but the base model ".*base\.gguf" has ne \[16,8\]/,
    );
    expect(ollama.seen).toEqual([]);
  });
});

describe("OllamaCreateClient (official ollama client for management calls)", () => {
  it("show returns a model's details, or undefined for a missing model", async () => {
    const { OllamaCreateClient } = await import(
      "../../../src/providers/ollama-build/ollama-create-client.js"
    );
    const client = new OllamaCreateClient({ baseUrl: URL });
    ollama.models.set("herd-shown:latest", {});
    expect((await client.show("herd-shown"))?.capabilities).toEqual(["completion"]);
    expect(await client.show("herd-absent")).toBeUndefined();
  });
});
