import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configFromFlags } from "../../../src/cli/common-options.js";
import { copyRepoExperts } from "../../helpers/repo-experts.js";
import { runHerd } from "../../helpers/run-cli.js";

// Routing trains into the experts folder: a private copy keeps the working tree's experts/ untouched.
const experts = await copyRepoExperts();
afterAll(() => experts.remove());
const EXPERTS = experts.dir;

async function expertsDir(experts: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "herd-cli-"));
  await writeFile(join(dir, "experts.json"), typeof experts === "string" ? experts : JSON.stringify(experts));
  return dir;
}

const small = {
  baseModel: "base",
  experts: [
    {
      name: "code",
      adapter: "a.gguf",
      examples: ["write a python function", "fix this javascript bug", "sql query joins"],
    },
    {
      name: "creative",
      adapter: "b.gguf",
      examples: ["write a poem about the sea", "a short story about a dragon"],
    },
  ],
};

describe("herd route", () => {
  // Trains the bundled experts' linear router once (seconds; longer on a busy machine), then reuses it.
  beforeAll(async () => {
    expect((await runHerd("centroids", "--experts-dir", EXPERTS)).code).toBe(0);
  }, 180_000);

  it("prints the ranked experts and the chosen model", async () => {
    const run = await runHerd(
      "route",
      "--experts-dir",
      EXPERTS,
      "Write a Python function that parses CSV files",
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\* code /m);
    expect(run.stdout).toMatch(/^\* code +probability [01]\.\d{4} +weight 1\.000$/m);
    expect(run.stdout).toMatch(
      /model herd-code \(routed, confidence [01]\.\d{3}\); strategy linear, weighting probability/,
    );
  });

  it("prints the decision as JSON with --json and blends with --top-experts", async () => {
    const run = await runHerd(
      "route",
      "--experts-dir",
      EXPERTS,
      "--top-experts",
      "2",
      "--json",
      "Write a poem about rain",
    );
    expect(run.code).toBe(0);
    const decision = JSON.parse(run.stdout);
    expect(decision.selected).toHaveLength(2);
    expect(decision.selected[0].name).toBe("creative");
    expect(decision.selected[0].weight + decision.selected[1].weight).toBeCloseTo(1, 9);
    expect(decision.ranked).toHaveLength(6);
    expect(decision.timings).toEqual({
      embedMs: expect.any(Number),
      queryMs: expect.any(Number),
      totalMs: expect.any(Number),
    });
  });

  it.each([
    [
      ["--embedder", "bert"],
      /^herd: --embedder "bert" is not one Herd knows; use one of: hashing, langchain, llamacpp, ollama\./,
    ],
    [["--index", "faiss"], /^herd: --index "faiss" is not one Herd knows; use one of: chroma, memory\./],
    [
      ["--strategy", "tree"],
      /^herd: option '--strategy <name>' argument 'tree' is invalid\. Allowed choices are linear, centroid, knn\./,
    ],
    [["--index", "memory", "--chroma-url", "http://x"], /^herd: --chroma-url only applies to --index chroma/],
    [["--embedder", "hashing:big"], /^herd: --embedder hashing takes no ":big" setting/],
    [
      ["--top-experts", "0"],
      /^herd: option '--top-experts <n>' argument '0' is invalid\. --top-experts must be a positive integer\./,
    ],
    [["--embedder", "llamacpp"], /^herd: --embedder llamacpp needs a model file/],
  ])("rejects %j as a usage error: one readable line, exit 2", async (flags, message) => {
    const run = await runHerd("route", "--experts-dir", EXPERTS, ...flags, "hello");
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(message);
  });

  it("rejects an empty prompt", async () => {
    const run = await runHerd("route", "--experts-dir", EXPERTS, "   ");
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      'herd: The prompt is empty: give some text to route, e.g. herd route "Sort a list in Python". (see herd --help)\n',
    );
  });

  it("names the fix when Chroma or Ollama cannot be reached", async () => {
    const chroma = await runHerd(
      "route",
      "--experts-dir",
      EXPERTS,
      "--index",
      "chroma",
      "--chroma-url",
      "http://127.0.0.1:9",
      "--strategy",
      "centroid",
      "hi",
    );
    expect(chroma.code).toBe(1);
    expect(chroma.stderr).toMatch(/^herd: .*127\.0\.0\.1:9.*(chroma run|--chroma-url)/);
    const ollama = await runHerd(
      "route",
      "--experts-dir",
      EXPERTS,
      "--embedder",
      "ollama",
      "--ollama-url",
      "http://127.0.0.1:9",
      "hi",
    );
    expect(ollama.code).toBe(1);
    expect(ollama.stderr).toMatch(/^herd: Cannot reach Ollama at http:\/\/127\.0\.0\.1:9 .*ollama serve/);
  });

  it("names the file and field of a malformed experts.json, and of an expert with no examples", async () => {
    const broken = await runHerd("route", "--experts-dir", await expertsDir("{ not json"), "hi");
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^herd: .*experts\.json is not valid JSON/);
    const noName = await runHerd(
      "route",
      "--experts-dir",
      await expertsDir({ baseModel: "b", experts: [{ adapter: "x", examples: ["a"] }] }),
      "hi",
    );
    expect(noName.stderr).toMatch(/experts\.json: experts\[0\]\.name: /);
    const empty = await runHerd(
      "route",
      "--experts-dir",
      await expertsDir({ baseModel: "b", experts: [{ name: "qa", adapter: "x", examples: [] }] }),
      "hi",
    );
    expect(empty.stderr).toMatch(/expert "qa" has no example prompts/);
  });
});

describe("usage errors", () => {
  it("print one line naming the problem and exit 2", async () => {
    for (const args of [["bogus"], ["route"], ["route", "--nope", "hi"]]) {
      const run = await runHerd(...args);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^herd: .+ \(see herd --help\)\n$/);
    }
  });
});

describe("herd centroids", () => {
  it("builds and stores centroids per embedder, leaving nothing half-written", async () => {
    const dir = await expertsDir(small);
    const run = await runHerd("centroids", "--experts-dir", dir, "--samples", "2", "--json");
    expect(run.code).toBe(0);
    const manifest = JSON.parse(run.stdout);
    expect(manifest).toMatchObject({
      version: 1,
      samples: 2,
      seed: 42,
      experts: { code: { examples: 3, sampled: 2 } },
    });
    // --json keeps stderr free of progress.
    expect(run.stderr).toBe("");
    expect(manifest.linear).toMatchObject({ classes: ["code", "creative"], examples: 5, converged: true });
    const entries = (await readdir(join(dir, "centroids"))).sort();
    expect(entries).toEqual([manifest.embedder, `${manifest.embedder}.linear.json`]);
    const folders = [manifest.embedder];
    expect((await readdir(join(dir, "centroids", folders[0]!))).sort()).toEqual([
      "code.npy",
      "creative.npy",
      "manifest.json",
    ]);
  });

  it("imports the original Python Herd's centroids and refuses a wrong dimension", async () => {
    const dir = await expertsDir(small);
    const py = join(dir, "python");
    await mkdir(py);
    const npy = (values: number[]) => {
      let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${values.length},), }`;
      header += " ".repeat(64 - ((10 + header.length + 1) % 64)) + "\n";
      const head = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
      head.writeUInt16LE(header.length, 8);
      return Buffer.concat([
        head,
        Buffer.from(header, "latin1"),
        Buffer.from(Float64Array.from(values).buffer),
      ]);
    };
    await writeFile(join(py, "code.npy"), npy([1, 0, 0]));
    await writeFile(join(py, "creative.npy"), npy([0, 1, 0]));
    const run = await runHerd("centroids", "--experts-dir", dir, "--import", py);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/has dimension 3 but embedder hashing-.* gives \d+/);
    expect(await readdir(dir)).not.toContain("centroids");
  });
});

describe("herd eval", () => {
  it("prints accuracy, per-expert scores and the confusion matrix as JSON", async () => {
    const dir = await expertsDir(small);
    const data = join(dir, "data.jsonl");
    await writeFile(
      data,
      [
        { prompt: "fix this python function", expert: "code" },
        { prompt: "a short poem about the sea", expert: "creative" },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n"),
    );
    const run = await runHerd("eval", "--experts-dir", dir, "--data", data, "--json");
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      n: 2,
      accuracy: 1,
      confusion: { code: { code: 1 }, creative: { creative: 1 } },
    });
    expect(Object.keys(report.perExpert)).toEqual(["code", "creative"]);
    expect(report.strategy).toBe("linear");
    expect(report.predictions).toEqual([
      { prompt: "fix this python function", expert: "code", routed: "code", confidence: expect.any(Number) },
      {
        prompt: "a short poem about the sea",
        expert: "creative",
        routed: "creative",
        confidence: expect.any(Number),
      },
    ]);
    expect(report.coverage[0]).toEqual({ threshold: 0, coverage: 1, accuracy: 1 });
    expect(report.coverage).toHaveLength(20);
    expect(report.ece).toBeGreaterThanOrEqual(0);
    expect(report.ece).toBeLessThan(0.5);
    const text = await runHerd("eval", "--experts-dir", dir, "--data", data);
    expect(text.stdout).toMatch(/^expected calibration error 0\.\d{3}/m);
    expect(text.stdout).toMatch(/^0\.00 +100\.0% +100\.0%$/m);
  });

  it("names the line of a bad data row", async () => {
    const dir = await expertsDir(small);
    const data = join(dir, "data.jsonl");
    await writeFile(data, '{"prompt":"ok","expert":"code"}\n{"prompt": 3}\n');
    const run = await runHerd("eval", "--experts-dir", dir, "--data", data);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`herd: ${data}:2: "prompt" must be a non-empty string.\n`);
  });
});

describe("herd fit", () => {
  async function fitSetup(): Promise<{ dir: string; data: string }> {
    const dir = await expertsDir(small);
    const data = join(dir, "calibration.jsonl");
    const rows = [
      { prompt: "fix this python bug", expert: "code" },
      { prompt: "write a javascript function", expert: "code" },
      { prompt: "a sql query with joins", expert: "code" },
      { prompt: "a poem about the moon", expert: "creative" },
      { prompt: "a short story about a dragon", expert: "creative" },
      { prompt: "write a story about a python", expert: "creative" },
    ];
    await writeFile(data, rows.map((r) => JSON.stringify(r)).join("\n"));
    return { dir, data };
  }

  it("fits the temperature and the threshold and writes them to the config, keeping its other keys", async () => {
    const { dir, data } = await fitSetup();
    const config = join(dir, "herd.json");
    await writeFile(config, JSON.stringify({ expertsDir: ".", router: { topExperts: 2 } }));
    const run = await runHerd(
      "fit",
      "--config-file",
      config,
      "--data",
      data,
      "--target-accuracy",
      "0.9",
      "--json",
    );
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ n: 6, targetAccuracy: 0.9, file: config });
    expect(result.temperature).toBeGreaterThan(0);
    const written = JSON.parse(await readFile(config, "utf8"));
    expect(written).toEqual({
      expertsDir: ".",
      router: {
        topExperts: 2,
        calibrationTemperature: Number(result.temperature.toFixed(4)),
        threshold: Number((result.threshold?.threshold ?? 0).toFixed(4)),
      },
    });
    // the written config is valid and routes with the fitted settings
    const route = await runHerd("route", "--config-file", config, "--json", "a poem about rain");
    expect(route.code).toBe(0);
    expect(JSON.parse(route.stdout).strategy).toBe("linear");
  });

  it("prints what it fitted, writes nothing on --dry-run, and refuses another strategy", async () => {
    const { dir, data } = await fitSetup();
    const dry = await runHerd(
      "fit",
      "--experts-dir",
      dir,
      "--data",
      data,
      "--write",
      join(dir, "x.json"),
      "--dry-run",
    );
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^6 prompts: accuracy \d+\.\d% when every prompt is routed$/m);
    expect(dry.stdout).toMatch(/^temperature \d+\.\d{4} \(expected calibration error/m);
    expect(dry.stdout).toMatch(/dry run: nothing written/);
    expect(await readdir(dir)).not.toContain("x.json");
    const centroid = await runHerd("fit", "--experts-dir", dir, "--data", data, "--strategy", "centroid");
    expect(centroid.code).toBe(2);
    expect(centroid.stderr).toMatch(
      /^herd: herd fit calibrates the linear strategy, not --strategy centroid/,
    );
    const bad = await runHerd("fit", "--experts-dir", dir, "--data", data, "--target-accuracy", "2");
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/--target-accuracy must be a number in \(0, 1\]/);
  });
});

describe("flags over a config file", () => {
  it("combine into a valid config: ollama url, index switches, chroma url, relative model paths", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-flags-"));
    const file = join(dir, "herd.json");
    await writeFile(
      file,
      JSON.stringify({
        embedder: { name: "ollama", model: "all-minilm" },
        index: { name: "chroma", url: "http://10.0.0.1:8000" },
        provider: { name: "llamacpp", modelPath: "models/base.gguf" },
      }),
    );
    const withUrl = await configFromFlags({ configFile: file, ollamaUrl: "http://127.0.0.1:1" }, EXPERTS);
    expect(withUrl.embedder).toMatchObject({
      name: "ollama",
      model: "all-minilm",
      url: "http://127.0.0.1:1",
    });
    // a model path in the config file is relative to that file
    expect(withUrl.provider).toMatchObject({ modelPath: join(dir, "models/base.gguf") });
    expect((await configFromFlags({ configFile: file, index: "memory" }, EXPERTS)).index).toEqual({
      name: "memory",
    });
    expect((await configFromFlags({ chromaUrl: "http://127.0.0.1:9" }, EXPERTS)).index).toEqual({
      name: "chroma",
      url: "http://127.0.0.1:9",
    });
    await expect(configFromFlags({ index: "memory", chromaUrl: "http://x" }, EXPERTS)).rejects.toThrow(
      /--chroma-url only applies to --index chroma/,
    );
    // a model path on the command line is relative to where the command runs
    const cli = await configFromFlags({ embedder: "llamacpp:tiny.gguf" }, EXPERTS);
    expect(cli.embedder).toEqual({ name: "llamacpp", modelPath: resolve("tiny.gguf") });
  });

  it("rejects a seed that is not an integer", async () => {
    const run = await runHerd("centroids", "--experts-dir", EXPERTS, "--seed", "abc");
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^herd: option '--seed <n>' argument 'abc' is invalid\. --seed must be an integer\./,
    );
  });
});
