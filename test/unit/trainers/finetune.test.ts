import { execFileSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readExpertCategories } from "../../../src/core/dataset/category-map.js";
import { segmentDataset } from "../../../src/core/dataset/segment.js";
import { findExecutable } from "../../../src/providers/trainers/run-trainer.js";
import { runHerd } from "../../helpers/run-cli.js";

const EXPERTS = resolve("experts");
let dir: string;
let segments: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-finetune-"));
  const data = join(dir, "data.jsonl");
  const rows = ["coding", "joke", "quiz", "cot", "agent", "trivia"].map((category, i) =>
    JSON.stringify({ category, instruction: `Task ${i}`, response: `Answer ${i}` }),
  );
  await writeFile(data, rows.join("\n"));
  segments = join(dir, "segments");
  await segmentDataset({ data, out: segments, experts: await readExpertCategories(EXPERTS) });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const finetune = (...args: string[]) =>
  runHerd("finetune", "--experts-dir", EXPERTS, "--data", segments, "--out", join(dir, "recipes"), ...args);

describe("herd finetune", () => {
  it("writes an axolotl YAML per expert naming the data file, the base model and the Herd QLoRA settings", async () => {
    const run = await finetune("--all");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const file = join(dir, "recipes", "code", "axolotl.yml");
    expect(run.stdout).toContain(`run: axolotl train ${file}`);
    const text = await readFile(file, "utf8");
    const recipe = parse(text);
    expect(recipe).toMatchObject({
      base_model: "meta-llama/Llama-3.2-3B-Instruct", // the model Ollama's llama3.2:3b was made from
      adapter: "qlora",
      load_in_4bit: true,
      lora_r: 64,
      lora_alpha: 16,
      lora_dropout: 0.1,
      lora_target_linear: true,
      learning_rate: 0.0002,
      num_epochs: 5,
      output_dir: join(dir, "recipes", "code", "adapter"),
      bnb_config_kwargs: { bnb_4bit_quant_type: "nf4", bnb_4bit_use_double_quant: true },
    });
    expect(recipe.datasets).toEqual([
      expect.objectContaining({ path: join(segments, "code.messages.jsonl"), type: "chat_template" }),
    ]);
    expect(text).toMatch(/^lora_r: 64 # LoRA rank \(--lora_r 64\)$/m);
    expect(
      parse(await readFile(join(dir, "recipes", "general", "axolotl.yml"), "utf8")).datasets[0].path,
    ).toBe(join(segments, "general.messages.jsonl"));
  });

  it("writes a peft script and config; --base-model overrides; the script is valid Python", async () => {
    const run = await finetune(
      "--expert",
      "code",
      "--trainer",
      "peft",
      "--base-model",
      "Qwen/Qwen2.5-0.5B-Instruct",
    );
    expect(run.code).toBe(0);
    const config = JSON.parse(await readFile(join(dir, "recipes", "code", "config.json"), "utf8"));
    expect(config).toMatchObject({
      base_model: "Qwen/Qwen2.5-0.5B-Instruct",
      data_file: join(segments, "code.messages.jsonl"),
      loraR: 64,
      loraAlpha: 16,
      quantType: "nf4",
    });
    expect(config._notes.loraR).toMatch(/--lora_r 64/);
    const python = await findExecutable("python3");
    if (python) execFileSync(python, ["-m", "py_compile", join(dir, "recipes", "code", "train.py")]);
  });

  it.each([
    [["--all", "--trainer", "unsloth"], "argument 'unsloth' is invalid. Allowed choices are axolotl, peft."],
    [[], "pass --expert NAME (one or more) or --all."],
    [["--all", "--expert", "code"], "pass --expert NAME (one or more) or --all, not both."],
  ])("usage error %j: exit 2 with one line", async (args, message) => {
    const run = await finetune(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("refuses an experts.json expert name that is not a file name (it names <out>/<expert>/)", async () => {
    const expertsDir = join(dir, "odd");
    await mkdir(expertsDir);
    const experts = [{ name: "../escape", adapter: "a.gguf", examples: ["x"] }];
    await writeFile(join(expertsDir, "experts.json"), JSON.stringify({ baseModel: "org/m", experts }));
    const out = join(dir, "r", "recipes");
    const run = await runHerd(
      "finetune",
      "--experts-dir",
      expertsDir,
      "--data",
      segments,
      "--out",
      out,
      "--all",
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^herd: .*experts\[0\]\.name "\.\.\/escape" must be lowercase letters/);
    await expect(readFile(join(dir, "r", "escape", "axolotl.yml"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("says what is missing: no data, an unknown base, an unknown expert", async () => {
    const noData = await runHerd(
      "finetune",
      "--experts-dir",
      EXPERTS,
      "--data",
      join(dir, "none"),
      "--out",
      join(dir, "r"),
      "--all",
    );
    expect(noData.stderr).toMatch(/^herd: No training data for expert "qa" .* run herd segment/);
    const unknown = await finetune("--expert", "astro");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^herd: --expert "astro" is not in experts\.json; known experts: qa, /);
    const tagDir = join(dir, "tag");
    await mkdir(tagDir);
    await writeFile(join(tagDir, "experts.json"), JSON.stringify({ baseModel: "mymodel:7b", experts: [] }));
    const tag = await runHerd("finetune", "--experts-dir", tagDir, "--out", join(dir, "r"), "--all");
    expect(tag.stderr).toMatch(/"mymodel:7b" is not a Hugging Face model .* pass --base-model/);
  });

  it("--run: one line naming how to install a missing trainer; an installed one runs and streams", async () => {
    const path = process.env.PATH;
    try {
      process.env.PATH = join(dir, "bin");
      const missing = await finetune("--expert", "code", "--run");
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(
        /^herd: axolotl is not installed: install it on a GPU machine with `pip install axolotl`/m,
      );
      // An axolotl on PATH: Herd runs the printed command and passes its output through.
      await mkdir(join(dir, "bin"));
      const fake = join(dir, "bin", "axolotl");
      await writeFile(fake, '#!/bin/sh\necho "axolotl $1 $2"\necho "step 1/1" >&2\n');
      await chmod(fake, 0o755);
      process.env.PATH = `${join(dir, "bin")}:/bin:/usr/bin`;
      const ran = await finetune("--expert", "code", "--run");
      expect(ran.code).toBe(0);
      expect(ran.stdout).toContain(`axolotl train ${join(dir, "recipes", "code", "axolotl.yml")}\n`);
      expect(ran.stderr).toContain("step 1/1");
    } finally {
      process.env.PATH = path;
    }
  });
});
