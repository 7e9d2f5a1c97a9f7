import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runHerd } from "../../helpers/run-cli.js";
import { writePeftExperts, writeTinyExperts } from "../engines-build/fixtures.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-build-engine-cli-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("herd build --engine", () => {
  it("vllm: writes the adapters and launch.json, prints the vllm serve command and the herd serve line", async () => {
    const expertsDir = await writePeftExperts(dir);
    const out = join(dir, "vllm");
    const run = await runHerd(
      "build",
      "--engine",
      "vllm",
      "--experts-dir",
      expertsDir,
      "--out",
      out,
      "--grid",
      "0.5",
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("6 adapters for vLLM in");
    expect(run.stdout).toContain("6 written, 0 unchanged, 0 removed");
    expect(run.stdout).toMatch(
      /\n {2}vllm serve test\/tiny-llama --port 8000 --enable-lora --max-lora-rank 32 --max-loras 6 --max-cpu-loras 6 --lora-modules '\{"name":"herd-code",/,
    );
    expect(run.stdout).toContain(
      `herd serve --provider vllm:http://127.0.0.1:8000 --config-file ${join(out, "herd.config.json")}`,
    );
    expect(run.stdout).toContain("VLLM_ALLOW_RUNTIME_LORA_UPDATING=True");
    expect(run.stdout).toContain("add --enable-auto-tool-choice --tool-call-parser PARSER");
    expect(run.stderr).toContain("writing herd-blend-math-poetry-50-50 (merge, 6/6)");
    expect((await readdir(out)).sort()).toEqual([
      "README.txt",
      "adapters",
      "herd-build.json",
      "herd.config.json",
      "launch.json",
    ]);

    const again = await runHerd(
      "build",
      "--engine",
      "vllm",
      "--experts-dir",
      expertsDir,
      "--out",
      out,
      "--grid",
      "0.5",
    );
    expect(again.stdout).toContain("0 written, 6 unchanged, 0 removed");
    expect(again.stderr).not.toContain("writing");
  });

  it("llama-server --json: the report with the launch arguments", async () => {
    const expertsDir = await writeTinyExperts(dir, "gguf");
    const out = join(dir, "ls");
    const run = await runHerd(
      "build",
      "--engine",
      "llama-server",
      "--experts-dir",
      expertsDir,
      "--out",
      out,
      "--json",
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.launch.commandLine).toBe(
      `llama-server -m ${join(dir, "base.gguf")} --lora ${join(out, "adapters", "herd-code.gguf")} ` +
        `--lora ${join(out, "adapters", "herd-math.gguf")} --lora-init-without-apply --jinja --port 8080`,
    );
    expect(JSON.parse(await readFile(join(out, "launch.json"), "utf8")).commandLine).toBe(
      report.launch.commandLine,
    );
  });

  it("--dry-run lists the adapters and the missing files and writes nothing", async () => {
    const expertsDir = await writePeftExperts(dir);
    await rm(join(expertsDir, "adapters", "math"), { recursive: true });
    const out = join(dir, "lorax");
    const run = await runHerd(
      "build",
      "--engine",
      "lorax",
      "--native-merge",
      "--dry-run",
      "--experts-dir",
      expertsDir,
      "--out",
      out,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `dry run: would write 3 adapters for LoRAX and launch.json in ${out}:\n` +
        "  adapters/herd-code (expert)\n  adapters/herd-math (expert)\n  adapters/herd-poetry (expert)\n" +
        `missing adapter files (1):\n  ${join(expertsDir, "adapters", "math")}\n`,
    );
    expect(await stat(out).catch(() => undefined)).toBeUndefined();
  });

  it("bad input: one readable line and exit 1", async () => {
    const expertsDir = await writePeftExperts(dir);
    await rm(join(expertsDir, "adapters", "math"), { recursive: true });
    const run = await runHerd(
      "build",
      "--engine",
      "vllm",
      "--experts-dir",
      expertsDir,
      "--out",
      join(dir, "o"),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `herd: Missing adapter or model files: ${join(expertsDir, "adapters", "math")}. Train or generate them ` +
        "(adapter paths are relative to the experts folder), or run with --dry-run to list what would be written.\n",
    );
  });

  it.each([
    [
      ["--engine", "tgi"],
      "argument 'tgi' is invalid. Allowed choices are ollama, vllm, lorax, llama-server.",
    ],
    [
      ["--engine", "vllm", "--native-merge"],
      "--native-merge applies to --engine lorax, not to --engine vllm.",
    ],
    [
      ["--engine", "lorax", "--max-loras", "4"],
      "--max-loras applies to --engine vllm, not to --engine lorax.",
    ],
    [
      ["--engine", "vllm", "--ollama-url", "http://x"],
      "--ollama-url applies to --engine ollama, not to --engine vllm.",
    ],
    [
      ["--model", "org/m"],
      "--model applies to --engine vllm | lorax | llama-server, not to --engine ollama.",
    ],
    [["--engine", "vllm", "--max-loras", "0"], "--max-loras must be a positive integer."],
    [
      ["--engine", "lorax", "--engine-dir", "data"],
      '--engine-dir must be an absolute path (where the engine sees --out, e.g. /data), got "data".',
    ],
    [["--engine", "vllm", "--port", "70000"], "expected a port, 1 to 65535."],
    [
      ["--grid", "0.3"],
      "argument '0.3' is invalid. The blend grid step must split 1 into whole percents (0.5, 0.25, 0.2, 0.1, 0.05, ...), got 0.3.",
    ],
    [["--grid", "abc"], '--grid must be a number such as 0.25, got "abc".'],
    [["--engine", "vllm", "--grid", "1"], "The blend grid step must split 1 into whole percents"],
    [["--dtype", "f8"], '--dtype must be auto, f32, f16 or bf16, got "f8".'],
    [["--pairs", "code"], '--pairs takes two different experts per pair, like code+reasoning; got "code".'],
    [
      ["--engine", "lorax", "--native-merge", "--pairs", "code+math"],
      "--pairs picks the blend adapters to write, but LoRAX with --native-merge blends experts per request and none are written: drop --pairs.",
    ],
    [
      ["--engine", "llama-server", "--pairs", "code+math"],
      "but llama-server blends experts per request and none are written: drop --pairs.",
    ],
    [
      ["--pairs", "code+code"],
      '--pairs takes two different experts per pair, like code+reasoning; got "code+code".',
    ],
  ])("usage error %j exits 2 with one line", async (args, message) => {
    const run = await runHerd("build", ...args, "--experts-dir", join(dir, "none"));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toMatch(/^herd: .* \(see herd --help\)\n$/);
  });

  it.each([["ollama"], ["vllm"]])(
    "--engine %s --pairs naming an unknown expert exits 2 with one line, writing nothing",
    async (engine) => {
      const expertsDir = await writePeftExperts(dir);
      const out = join(dir, "out");
      const run = await runHerd(
        "build",
        "--engine",
        engine,
        "--experts-dir",
        expertsDir,
        "--out",
        out,
        "--pairs",
        "code+nope",
      );
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        `herd: --pairs names "nope", which is not an expert in ${expertsDir}/experts.json; known experts: code, math, poetry. (see herd --help)\n`,
      );
      await expect(stat(out)).rejects.toThrow(/ENOENT/);
    },
  );

  it("--help documents the engines and their options", async () => {
    const run = await runHerd("build", "--help");
    expect(run.code).toBe(0);
    for (const flag of [
      "--engine <name>",
      "--model <name>",
      "--base-gguf <file>",
      "--engine-dir <dir>",
      "--max-loras <n>",
      "--native-merge",
      "--port <port>",
    ]) {
      expect(run.stdout).toContain(flag);
    }
    expect(run.stdout.replace(/\s+/g, " ")).toContain('choices: "ollama", "vllm", "lorax", "llama-server"');
    expect(run.stdout.replace(/\s+/g, " ")).toContain("the herd.config.json herd serve reads");
  });
});
