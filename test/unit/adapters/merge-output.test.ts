import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeGgufLora } from "../../../src/providers/adapters/adapter-writer.js";
import { openAdapter } from "../../../src/providers/adapters/open-adapter.js";
import { runHerd } from "../../helpers/run-cli.js";
import { writeRandomAdapter } from "./random-adapters.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-merge-out-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const shape = [{ name: "model.layers.0.self_attn.q_proj", rank: 2, inFeatures: 4, outFeatures: 4 }];
const ggufShape = [{ name: "blk.0.attn_q.weight", rank: 2, inFeatures: 4, outFeatures: 4 }];

async function peftInput(): Promise<string> {
  const path = join(dir, "in");
  await writeRandomAdapter(path, "peft", shape, { seed: 1 });
  return path;
}

describe("herd merge --out onto something that exists", () => {
  it("refuses a folder with other files that is not a PEFT adapter, and keeps its files", async () => {
    const input = await peftInput();
    const out = join(dir, "project");
    await mkdir(out);
    await writeFile(join(out, "notes.txt"), "precious");
    const run = await runHerd("merge", "--out", out, input);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain(
      `--out ${out} is a folder with other files (notes.txt) and not a PEFT adapter`,
    );
    expect(run.stderr).toContain("--force");
    expect(await readdir(out)).toEqual(["notes.txt"]);
    expect(await readdir(dir)).toEqual(["in", "project"]);

    const forced = await runHerd("merge", "--force", "--out", out, input);
    expect(forced.code).toBe(0);
    expect((await readdir(out)).sort()).toEqual(["adapter_config.json", "adapter_model.safetensors"]);
  });

  it("refuses a PEFT training folder (adapter plus checkpoints), and keeps everything in it", async () => {
    const input = await peftInput();
    const out = join(dir, "training-output");
    await writeRandomAdapter(out, "peft", shape, { seed: 2 });
    await mkdir(join(out, "checkpoint-500"));
    await writeFile(join(out, "training_args.bin"), "args");
    const run = await runHerd("merge", "--out", out, input);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `--out ${out} is a folder with other files (checkpoint-500, training_args.bin) besides its PEFT adapter`,
    );
    expect((await readdir(out)).sort()).toEqual(
      ["adapter_config.json", "adapter_model.safetensors", "checkpoint-500", "training_args.bin"].sort(),
    );
  });

  it("replaces an earlier PEFT adapter and fills an empty folder", async () => {
    const input = await peftInput();
    const out = join(dir, "merged");
    await mkdir(out);
    expect((await runHerd("merge", "--out", out, input)).code).toBe(0);
    expect((await runHerd("merge", "--out", out, `${input}:0.5`)).code).toBe(0);
    const merged = await openAdapter(out);
    expect(merged.modules.map((m) => m.name)).toEqual([shape[0]!.name]);
    await merged.close();
  });

  it.each([
    [["--format", "zip"], "argument 'zip' is invalid. Allowed choices are gguf, peft."],
    [["--dtype", "f8"], '--dtype must be f32, f16 or bf16, got "f8".'],
    [["a.gguf:0.5", "b.gguf"], "Give a weight to every adapter or to none (then each gets 1/N)."],
    [["a.gguf:heavy"], 'The weight "heavy" in "a.gguf:heavy" is not a finite number'],
  ])("usage error %j exits 2 with one line, writing nothing", async (args, message) => {
    const run = await runHerd(
      "merge",
      "--out",
      join(dir, "m.gguf"),
      ...args,
      ...(args[0]!.startsWith("--") ? ["a.gguf"] : []),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toMatch(/^herd: .* \(see herd --help\)\n$/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("says in one line that a GGUF output cannot be a folder, nor a PEFT output a file", async () => {
    const input = join(dir, "in.gguf");
    await writeRandomAdapter(input, "gguf", ggufShape, { seed: 1 });
    const folder = join(dir, "folder");
    await mkdir(folder);
    const gguf = await runHerd("merge", "--format", "gguf", "--out", folder, input);
    expect(gguf.code).toBe(1);
    expect(gguf.stderr).toBe(
      `herd: --out ${folder} is a folder, but a GGUF adapter is one file: give a file name such as ${join(folder, "merged.gguf")}, or --format peft to write a PEFT folder.\n`,
    );
    const file = join(dir, "file");
    await writeFile(file, "x");
    const peft = await runHerd("merge", "--format", "peft", "--out", file, await peftInput());
    expect(peft.stderr).toMatch(/^herd: --out .*file is a file, but a PEFT adapter is a folder/);
    expect(await readdir(folder)).toEqual([]);
  });

  it("refuses --out . (the current folder) in one line", async () => {
    const input = await peftInput();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      for (const out of [".", "..", dir]) {
        const run = await runHerd("merge", "--out", out, input);
        expect(run.code, out).toBe(1);
        expect(run.stderr, out).toMatch(
          /^herd: --out .* is the current folder.*; the merged adapter needs its own path/,
        );
        expect(run.stderr.trim().split("\n")).toHaveLength(1);
      }
    } finally {
      process.chdir(cwd);
    }
    expect((await readdir(dir)).sort()).toEqual(["in"]);
  });
});

describe("NaN and infinite adapter weights", () => {
  it("make herd merge fail naming the adapter and module, and write nothing", async () => {
    const bad = join(dir, "bad.gguf");
    const a = new Float32Array(8).fill(0.1);
    a[5] = Number.NaN;
    await writeGgufLora(bad, {
      architecture: "llama",
      modules: ggufShape.map((m) => ({
        ...m,
        a: async () => a,
        b: async () => new Float32Array(8).fill(0.2),
      })),
    });
    const run = await runHerd("merge", "--out", join(dir, "m.gguf"), bad);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `Adapter "${bad}": module "blk.0.attn_q.weight" has a non-finite value (NaN) in lora_A`,
    );
    expect(await readdir(dir)).toEqual(["bad.gguf"]);
  });
});

describe("temporary files of interrupted merges", () => {
  /** The pid of a process that has exited. */
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ["-e", ""]);
    await new Promise((resolve) => child.once("exit", resolve));
    return child.pid!;
  }

  it("are removed by the next merge into the same folder when their process is gone", async () => {
    const input = join(dir, "in.gguf");
    await writeRandomAdapter(input, "gguf", ggufShape, { seed: 1 });
    const dead = await deadPid();
    const leftovers = [
      `.m.gguf.tmp-${dead}-0badc0de`,
      `.blend-peft.tmp-${dead}-12345678`,
      `m.gguf.${dead}.abcdef01.tmp`, // older Herd's GGUF temporaries
    ];
    for (const name of leftovers) await writeFile(join(dir, name), "half");
    await mkdir(join(dir, `.merged.tmp-${dead}-00ff00ff`));
    const running = `.other.gguf.tmp-${process.pid}-feedf00d`; // a live process's: kept
    await writeFile(join(dir, running), "in progress");

    const run = await runHerd("merge", "--out", join(dir, "m.gguf"), input);
    expect(run.code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual([running, "in.gguf", "m.gguf"].sort());
  });

  it("leave other programs' files that only look like older Herd temporaries alone", async () => {
    const input = join(dir, "in.gguf");
    await writeRandomAdapter(input, "gguf", ggufShape, { seed: 1 });
    const dead = await deadPid();
    // Shapes of Herd's temporaries before 0.2, but named after other files: not this merge's leftovers.
    const theirs = [
      `report.${dead}.deadbeef.tmp`,
      `notes.old-${dead}-1700000000000`,
      `data.tmp-${dead}-1700000000000`,
    ];
    for (const name of theirs) await writeFile(join(dir, name), "someone else's");
    await mkdir(join(dir, `cache.${dead}.0badf00d.tmp`));

    const run = await runHerd("merge", "--out", join(dir, "m.gguf"), input);
    expect(run.code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(
      [...theirs, `cache.${dead}.0badf00d.tmp`, "in.gguf", "m.gguf"].sort(),
    );
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`are removed when the process gets ${signal}, which still ends it`, async () => {
      const script = fileURLToPath(new URL("../../fixtures/herd/interrupted-write.ts", import.meta.url));
      const child = spawn(process.execPath, ["--import", "tsx", script, join(dir, "out.gguf")], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const temp = await new Promise<string>((resolve, reject) => {
        let text = "";
        child.stdout.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes("\n")) resolve(text.trim());
        });
        child.once("exit", (code) => reject(new Error(`the writer exited early (${code})`)));
      });
      expect(existsSync(temp)).toBe(true);
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.once("exit", (_code, s) => resolve(s)),
      );
      child.kill(signal);
      expect(await exited).toBe(signal);
      expect(existsSync(temp)).toBe(false);
      expect(await readdir(dir)).toEqual([]);
    });
  }
});
