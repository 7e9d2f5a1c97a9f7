import { cp, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { addExpertToFile } from "../../../src/core/experts-file.js";
import { createHerd } from "../../../src/herd.js";
import { mergeAdapterFiles } from "../../../src/providers/adapters/merge.js";
import { writeTinyLora, writeTinyModel } from "../../../src/providers/llamacpp/tiny-model.js";
import { createApp } from "../../../src/server/app.js";
import { listen } from "../../helpers/listen.js";
import { runHerd } from "../../helpers/run-cli.js";

const ASTRONOMY = [
  "How far away is the Andromeda galaxy from the Milky Way?",
  "Which planet in the solar system has the most moons?",
  "Explain how a telescope mirror gathers starlight.",
  "Why does Mars look red in the night sky?",
  "What is a neutron star and how does it form?",
  "How long does the Moon take to orbit the Earth?",
  "What causes a solar eclipse and a lunar eclipse?",
  "How do astronomers measure the distance to a star?",
];

let dir: string;
let experts: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-experts-"));
  experts = join(dir, "experts");
  await cp(resolve("experts"), experts, { recursive: true, filter: (src) => !src.includes("centroids") });
  await writeTinyModel(join(dir, "base.gguf"));
  await writeTinyLora(join(dir, "astro.gguf"), {}, { seed: "astro" });
  await writeFile(join(dir, "astro.txt"), ASTRONOMY.join("\n"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function routeTo(prompt: string): Promise<string> {
  const run = await runHerd("route", "--experts-dir", experts, "--json", prompt);
  expect(run.stderr).toBe("");
  return JSON.parse(run.stdout).selected[0].name;
}

describe("herd experts", () => {
  it("add checks the adapter, updates experts.json and the centroids; herd route then picks the new expert; remove undoes it", async () => {
    const prompt = "How many moons does the planet Jupiter have, and which telescope found them?";
    expect(await routeTo(prompt)).not.toBe("astro");
    const add = await runHerd(
      "experts",
      "add",
      "--experts-dir",
      experts,
      "--name",
      "astro",
      "--adapter",
      join(dir, "astro.gguf"),
      "--examples",
      join(dir, "astro.txt"),
      "--categories",
      "astronomy",
      "--base",
      join(dir, "base.gguf"),
    );
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/added expert astro .*\(gguf, 14 modules, rank 8\), 8 example prompts/);
    expect(add.stdout).toMatch(/herd build --experts-dir/);
    const file = JSON.parse(await readFile(join(experts, "experts.json"), "utf8"));
    expect(file.experts.at(-1)).toEqual({
      name: "astro",
      description: "",
      categories: ["astronomy"],
      adapter: join(dir, "astro.gguf"),
      model: "herd-astro",
      examples: "examples/astro.jsonl",
    });
    expect(await routeTo(prompt)).toBe("astro");
    const list = await runHerd("experts", "list", "--experts-dir", experts);
    expect(list.stdout).toMatch(/^astro\s+astronomy\s+adapter /m);

    const remove = await runHerd("experts", "remove", "astro", "--experts-dir", experts, "--delete-files");
    expect(remove.code).toBe(0);
    expect(remove.stdout).toMatch(/deleted: examples\/astro.jsonl/);
    expect(await routeTo(prompt)).not.toBe("astro");
    await expect(stat(join(experts, "examples", "astro.jsonl"))).rejects.toThrow();
    await expect(stat(join(dir, "astro.gguf"))).resolves.toBeTruthy(); // outside the experts folder: kept
  });

  it("refuses an adapter made for another model size, and leaves experts.json alone", async () => {
    await writeTinyLora(join(dir, "wide.gguf"), { embeddingLength: 32 }, { seed: "wide" });
    const before = await readFile(join(experts, "experts.json"), "utf8");
    const add = await runHerd(
      "experts",
      "add",
      "--experts-dir",
      experts,
      "--name",
      "astro",
      "--adapter",
      join(dir, "wide.gguf"),
      "--examples",
      join(dir, "astro.txt"),
      "--base",
      join(dir, "base.gguf"),
    );
    expect(add.code).toBe(1);
    expect(add.stderr).toMatch(/^herd: Adapter ".*wide.gguf" changes "blk.0.attn_q.weight" as ne \[32, 32\]/);
    expect(await readFile(join(experts, "experts.json"), "utf8")).toBe(before);
    const badName = await runHerd(
      "experts",
      "add",
      "--experts-dir",
      experts,
      "--name",
      "../escape",
      "--adapter",
      join(dir, "astro.gguf"),
      "--examples",
      join(dir, "astro.txt"),
    );
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/^herd: --name "..\/escape" must be lowercase letters/);
  });

  it("refuses a --serve-url that is not an http(s) URL, or an unknown --provider, before changing experts.json", async () => {
    const before = await readFile(join(experts, "experts.json"), "utf8");
    const run = await runHerd(
      "experts",
      "remove",
      "qa",
      "--experts-dir",
      experts,
      "--serve-url",
      "localhost:8000",
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--serve-url must be the server's address, e.g. http://127.0.0.1:8000");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(await readFile(join(experts, "experts.json"), "utf8")).toBe(before);
    const vllm = await runHerd(
      "experts",
      "add",
      "--experts-dir",
      experts,
      "--name",
      "astro",
      "--adapter",
      join(dir, "astro.gguf"),
      "--examples",
      join(dir, "astro.txt"),
      "--provider",
      "vllm",
    );
    expect(vllm.code).toBe(2);
    expect(vllm.stderr).toContain("argument 'vllm' is invalid. Allowed choices are ollama, llamacpp.");
    expect(await readFile(join(experts, "experts.json"), "utf8")).toBe(before);
  });

  it("remove --delete-files deletes only files inside the experts folder that no other expert uses", async () => {
    const file = join(experts, "experts.json");
    const data = JSON.parse(await readFile(file, "utf8"));
    await writeFile(join(dir, "outside.gguf"), "not mine");
    data.experts.push({
      name: "odd",
      adapter: "adapters/../../outside.gguf", // resolves outside the experts folder
      model: "herd-odd",
      examples: "examples/qa.jsonl", // shared with the qa expert
    });
    await writeFile(file, JSON.stringify(data));
    const run = await runHerd("experts", "remove", "odd", "--experts-dir", experts, "--delete-files");
    expect(run.code).toBe(0);
    expect(await readFile(join(dir, "outside.gguf"), "utf8")).toBe("not mine");
    expect((await stat(join(experts, "examples", "qa.jsonl"))).size).toBeGreaterThan(0);
    expect(run.stdout).not.toContain("deleted");
  });

  it("reads at most 1 MiB of a --serve-url reply, and warns about a larger one", async () => {
    let offered = 0;
    let closed: (bytes: number) => void = () => undefined;
    const connectionClosed = new Promise<number>((done) => {
      closed = done;
    });
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      const piece = Buffer.alloc(64 * 1024, "x");
      const body = new Readable({
        read() {
          offered += piece.length;
          this.push(offered > 512 * 1024 * 1024 ? null : piece);
        },
      });
      res.on("close", () => {
        body.destroy();
        closed(res.writableFinished ? Number.POSITIVE_INFINITY : offered);
      });
      body.pipe(res);
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const run = await runHerd("experts", "remove", "qa", "--experts-dir", experts, "--serve-url", url);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`warning: ${url}/admin/experts/reload sent a reply larger than 1 MiB`);
      expect(await connectionClosed).toBeLessThan(64 * 1024 * 1024);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("converts a PEFT adapter to GGUF for llama.cpp, and says --base is needed without it", async () => {
    const peft = join(dir, "astro-peft");
    await mergeAdapterFiles(peft, [{ path: join(dir, "astro.gguf"), weight: 1 }], {
      baseModel: join(dir, "base.gguf"),
    });
    const args = [
      "experts",
      "add",
      "--experts-dir",
      experts,
      "--name",
      "astro",
      "--adapter",
      peft,
      "--examples",
      join(dir, "astro.txt"),
      "--provider",
      "llamacpp",
    ];
    const missing = await runHerd(...args);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/needs a GGUF adapter .* pass the GGUF base model with --base/);
    const add = await runHerd(...args, "--base", join(dir, "base.gguf"));
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/adapter adapters\/astro.gguf \(gguf, converted from PEFT/);
    expect((await readFile(join(experts, "adapters", "astro.gguf"))).subarray(0, 4).toString()).toBe("GGUF");
  });
});

describe("POST /admin/experts/reload", () => {
  it("makes a running server serve an expert added to experts.json, only with the API key", async () => {
    const herd = await createHerd({ expertsDir: experts });
    const open = await listen(createApp(herd));
    const secured = await listen(createApp(herd, { apiKey: "sk-admin-key" }));
    try {
      await writeFile(
        join(experts, "examples", "astro.jsonl"),
        ASTRONOMY.map((p) => `${JSON.stringify({ prompt: p })}\n`).join(""),
      );
      await addExpertToFile(experts, {
        name: "astro",
        adapter: "astro.gguf",
        examples: "examples/astro.jsonl",
      });
      const json = { "content-type": "application/json" };
      const off = await fetch(`${open.url}/admin/experts/reload`, { method: "POST", headers: json });
      expect(off.status).toBe(403);
      expect(((await off.json()) as { error: { message: string } }).error.message).toMatch(
        /start herd serve with --api-key/,
      );
      const wrong = await fetch(`${secured.url}/admin/experts/reload`, {
        method: "POST",
        headers: { ...json, authorization: "Bearer nope-nope-nope" },
      });
      expect(wrong.status).toBe(401);
      const ok = await fetch(`${secured.url}/admin/experts/reload`, {
        method: "POST",
        headers: { ...json, authorization: "Bearer sk-admin-key" },
      });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ object: "herd.experts.reload", added: ["astro"], removed: [] });
      const route = await fetch(`${secured.url}/v1/route`, {
        method: "POST",
        headers: { authorization: "Bearer sk-admin-key", "content-type": "application/json" },
        // An astronomy question, not the one-line trivia general's examples hold ("Which planet has the most moons?").
        body: JSON.stringify({
          input: "How many moons does the planet Jupiter have, and which telescope found them?",
        }),
      });
      expect(((await route.json()) as { selected: { name: string }[] }).selected[0]!.name).toBe("astro");
      // herd experts remove --serve-url tells the running server itself.
      const removed = await runHerd(
        "experts",
        "remove",
        "astro",
        "--experts-dir",
        experts,
        "--serve-url",
        secured.url,
        "--api-key",
        "sk-admin-key",
      );
      expect(removed.stdout).toContain(
        `reloaded ${secured.url}/admin/experts/reload: serving qa, creative, code, reasoning, function, general`,
      );
      expect(herd.experts.map((e) => e.name)).not.toContain("astro");
    } finally {
      await Promise.all([open.close(), secured.close()]);
      await herd.close();
    }
  });
});
