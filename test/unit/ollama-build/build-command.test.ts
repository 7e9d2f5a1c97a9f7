import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { registerBuildCommand } from "../../../src/cli/commands/build.js";
import { ExpertConfigError } from "../../../src/core/errors.js";
import { listBlendModels } from "../../../src/providers/ollama-build/build.js";

let dir: string;
let stderr: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-build-cli-"));
  stderr = "";
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

async function herdBuild(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerBuildCommand(program);
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  await program.parseAsync(["node", "herd", "build", ...args]);
  return out;
}

async function writeExperts(extra: Record<string, unknown> = {}) {
  await mkdir(join(dir, "experts"));
  await writeFile(
    join(dir, "experts", "experts.json"),
    JSON.stringify({
      baseModel: "qwen2.5:0.5b",
      experts: ["math", "poetry"].map((name) => ({
        name,
        adapter: `lora/${name}`,
        examples: [`a ${name} prompt`],
      })),
      ...extra,
    }),
  );
}

describe("herd build --dry-run", () => {
  it("writes the Modelfiles with the experts.json chat settings and lists the missing adapters", async () => {
    await writeExperts({ ollama: { system: "Be brief.", parameters: { stop: ["<|im_end|>"] } } });
    const out = await herdBuild(
      "--dry-run",
      "--experts-dir",
      join(dir, "experts"),
      "--out",
      join(dir, "mf"),
      "--grid",
      "0.5",
    );
    expect(out).toContain("4 Modelfiles in");
    expect(out).toContain("missing adapter files (2):");
    expect(out).toMatch(/experts\/lora\/math\n/);
    expect((await readdir(join(dir, "mf"))).sort()).toEqual([
      "Modelfile.base",
      "Modelfile.blend-math-poetry-50-50",
      "Modelfile.math",
      "Modelfile.poetry",
    ]);
    expect(await readFile(join(dir, "mf", "Modelfile.blend-math-poetry-50-50"), "utf8")).toContain(
      'FROM qwen2.5:0.5b\nADAPTER ../experts/adapters/merged/blend-math-poetry-50-50\nSYSTEM """Be brief."""\nPARAMETER stop <|im_end|>\n',
    );
    expect(stderr).toContain("Modelfile.base");
  });

  it("drops blend Modelfiles of an earlier build that the new grid does not have", async () => {
    await writeExperts();
    await herdBuild(
      "--dry-run",
      "--experts-dir",
      join(dir, "experts"),
      "--out",
      join(dir, "mf"),
      "--grid",
      "0.25",
    );
    await herdBuild(
      "--dry-run",
      "--experts-dir",
      join(dir, "experts"),
      "--out",
      join(dir, "mf"),
      "--grid",
      "0.5",
    );
    expect((await readdir(join(dir, "mf"))).filter((f) => f.includes("blend"))).toEqual([
      "Modelfile.blend-math-poetry-50-50",
    ]);
    // What the Ollama blend resolver should be told exists.
    expect(await listBlendModels(join(dir, "mf"))).toEqual(["herd-blend-math-poetry-50-50"]);
  });

  it("rejects a bad ollama section, a bad grid and unknown pairs", async () => {
    await writeExperts({ ollama: { template: 42 } });
    const args = ["--dry-run", "--experts-dir", join(dir, "experts"), "--out", join(dir, "mf")];
    await expect(herdBuild(...args)).rejects.toThrow(ExpertConfigError);
    await expect(herdBuild(...args)).rejects.toThrow(/ollama\.template must be a string/);
    await rm(join(dir, "experts"), { recursive: true });
    await writeExperts();
    await expect(herdBuild(...args, "--grid", "0.3")).rejects.toThrow(/whole percents/);
    await expect(herdBuild(...args, "--pairs", "math+prose")).rejects.toThrow(
      /--pairs names "prose", which is not an expert in/,
    );
  });
});
