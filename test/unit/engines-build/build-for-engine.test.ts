import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { blendModelName, blendVariants } from "../../../src/core/blend-resolver.js";
import { loadConfigFile } from "../../../src/core/config.js";
import { ConfigError, ExpertConfigError, FileFormatError } from "../../../src/core/errors.js";
import { loadExpertSet } from "../../../src/core/experts.js";
import { convertAdapter } from "../../../src/providers/adapters/convert.js";
import { openAdapter } from "../../../src/providers/adapters/open-adapter.js";
import { PeftAdapter } from "../../../src/providers/adapters/peft-adapter.js";
import {
  buildForEngine,
  type EngineBuildOptions,
  type EngineBuildReport,
} from "../../../src/providers/engines-build/index.js";
import { readGgufHeader } from "../../../src/providers/gguf/index.js";
import { moduleDelta, relativeError, writeRandomAdapter } from "../adapters/random-adapters.js";
import { peftShapes, writeExpertsDir, writePeftExperts, writeTinyExperts } from "./fixtures.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-engine-build-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function build(
  expertsDir: string,
  options: Partial<EngineBuildOptions> & Pick<EngineBuildOptions, "engine">,
): Promise<EngineBuildReport> {
  return buildForEngine(await loadExpertSet(expertsDir), {
    expertsDir,
    outDir: join(dir, "out"),
    grid: 0.5,
    ...options,
  });
}

async function launchJson(): Promise<Record<string, unknown> & { argv: string[] }> {
  return JSON.parse(await readFile(join(dir, "out", "launch.json"), "utf8"));
}

/** Checks every module of `merged` against the weighted sum of its parts' deltas. */
async function expectWeightedSum(merged: string, parts: { path: string; weight: number }[]) {
  const out = await openAdapter(merged);
  const inputs = await Promise.all(parts.map((p) => openAdapter(p.path)));
  try {
    const names = new Set(inputs.flatMap((a) => a.modules.map((m) => m.name)));
    expect(out.modules.map((m) => m.name).sort()).toEqual([...names].sort());
    for (const name of names) {
      let expected: Float64Array | undefined;
      for (const [i, input] of inputs.entries()) {
        if (!input.module(name)) continue;
        const d = (await moduleDelta(input, name)).map((v) => v * parts[i]!.weight);
        expected = expected ? expected.map((v, j) => v + d[j]!) : d;
      }
      expect(relativeError(await moduleDelta(out, name), expected!)).toBeLessThan(1e-5);
    }
  } finally {
    await Promise.all([out, ...inputs].map((a) => a.close()));
  }
}

describe("buildForEngine vllm", () => {
  it("writes a PEFT folder per expert and per blend, and launch arguments holding the largest blend", async () => {
    const expertsDir = await writePeftExperts(dir);
    const report = await build(expertsDir, { engine: "vllm", model: "org/tiny-llama" });
    const blends = blendVariants(["code", "math", "poetry"], 0.5).map((v) => v.model);
    expect(blends).toEqual([
      "herd-blend-code-math-50-50",
      "herd-blend-code-poetry-50-50",
      "herd-blend-math-poetry-50-50",
    ]);
    expect((await readdir(join(dir, "out", "adapters"))).sort()).toEqual(
      ["herd-code", "herd-math", "herd-poetry", ...blends].sort(),
    );
    expect(report.written).toEqual(["herd-code", "herd-math", "herd-poetry", ...blends]);
    // Experts are copied byte for byte.
    for (const name of ["code", "math", "poetry"]) {
      for (const file of ["adapter_config.json", "adapter_model.safetensors"]) {
        expect(await readFile(join(dir, "out", "adapters", `herd-${name}`, file))).toEqual(
          await readFile(join(expertsDir, "adapters", name, file)),
        );
      }
    }
    // A blend is the exact weighted sum, with one r (math 8 + poetry 12 = 20) that vLLM reads.
    const blend = join(dir, "out", "adapters", "herd-blend-math-poetry-50-50");
    await expectWeightedSum(blend, [
      { path: join(expertsDir, "adapters", "math"), weight: 0.5 },
      { path: join(expertsDir, "adapters", "poetry"), weight: 0.5 },
    ]);
    const config = JSON.parse(await readFile(join(blend, "adapter_config.json"), "utf8"));
    expect(config).toMatchObject({ r: 20, lora_alpha: 20, rank_pattern: {} });

    const launch = await launchJson();
    expect(launch.settings).toEqual({ maxLoraRank: 32, maxLoras: 6, maxCpuLoras: 6, largestRank: 20 });
    const i = launch.argv.indexOf("--lora-modules");
    expect(launch.argv.slice(0, i)).toEqual([
      "vllm",
      "serve",
      "org/tiny-llama",
      "--port",
      "8000",
      "--enable-lora",
      "--max-lora-rank",
      "32",
      "--max-loras",
      "6",
      "--max-cpu-loras",
      "6",
    ]);
    expect(launch.argv.slice(i + 1).map((m) => JSON.parse(m))).toEqual(
      ["herd-code", "herd-math", "herd-poetry", ...blends].map((name) => ({
        name,
        path: join(dir, "out", "adapters", name),
        base_model_name: "org/tiny-llama",
      })),
    );
    expect(report.launch?.commandLine).toContain(
      `--lora-modules '{"name":"herd-code","path":"${join(dir, "out", "adapters", "herd-code")}","base_model_name":"org/tiny-llama"}'`,
    );
    expect(report.launch?.notes.join(" ")).toContain("VLLM_ALLOW_RUNTIME_LORA_UPDATING=True");
    expect(await readFile(join(dir, "out", "README.txt"), "utf8")).toContain(report.launch!.commandLine);
  });

  it("defaults the served base to the adapters' base_model_name_or_path and honours --max-loras", async () => {
    const expertsDir = await writePeftExperts(dir);
    const report = await build(expertsDir, { engine: "vllm", maxLoras: 2, pairs: [["code", "math"]] });
    expect(report.launch?.baseModel).toBe("test/tiny-llama");
    expect(report.warnings).toEqual([]);
    expect(report.adapters.map((a) => a.name)).toEqual([
      "herd-code",
      "herd-math",
      "herd-poetry",
      blendModelName([
        { expert: "math", weight: 0.5 },
        { expert: "code", weight: 0.5 },
      ]),
    ]);
    expect(report.launch?.settings).toMatchObject({ maxLoraRank: 16, maxLoras: 2, maxCpuLoras: 4 });
  });

  it("warns when --model is not the base the adapters record", async () => {
    const expertsDir = await writePeftExperts(dir);
    const local = await build(expertsDir, { engine: "vllm", model: "/models/tiny-llama" });
    expect(local.warnings).toEqual([]);
    const other = await build(expertsDir, { engine: "vllm", model: "org/other-model" });
    expect(other.warnings).toHaveLength(3);
    expect(other.warnings[0]).toBe(
      'Expert "code" was trained on "test/tiny-llama" but vLLM will serve "org/other-model": check --model ' +
        "(an adapter only fits the base it was trained on).",
    );
  });

  it("converts GGUF experts to PEFT with the GGUF base, exactly", async () => {
    const expertsDir = await writeTinyExperts(dir, "gguf");
    const report = await build(expertsDir, { engine: "vllm", model: "org/tiny" });
    expect(report.written).toEqual(["herd-code", "herd-math", "herd-blend-code-math-50-50"]);
    const base = await readGgufHeader(join(dir, "base.gguf"));
    const original = await openAdapter(join(expertsDir, "adapters", "code.gguf"));
    const view = convertAdapter(original, "peft", base);
    const written = await PeftAdapter.open(join(dir, "out", "adapters", "herd-code"));
    try {
      expect(written.modules.map((m) => m.name).sort()).toEqual(view.modules.map((m) => m.name).sort());
      for (const m of view.modules) {
        expect(
          relativeError(await moduleDelta(written, m.name), await moduleDelta(view, m.name)),
        ).toBeLessThan(1e-5);
      }
    } finally {
      await Promise.all([original.close(), written.close()]);
    }
    expect(report.launch?.settings).toMatchObject({ maxLoraRank: 16, largestRank: 12 });
  });

  it("says to pass --base-gguf when GGUF experts cannot be converted", async () => {
    const expertsDir = await writeTinyExperts(dir, "gguf");
    const file = join(expertsDir, "experts.json");
    const data = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, JSON.stringify({ ...data, baseModel: "org/tiny" }));
    const error = await build(expertsDir, { engine: "vllm" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileFormatError);
    expect((error as Error).message).toBe(
      `Expert "code" has a GGUF file (${join(expertsDir, "adapters", "code.gguf")}) but vLLM loads PEFT folders. ` +
        "Herd converts it exactly with the base model's GGUF file: pass --base-gguf BASE.gguf, or give the expert " +
        "an adapter in that format in experts.json.",
    );
    expect(await stat(join(dir, "out")).catch(() => undefined)).toBeUndefined();
    await build(expertsDir, { engine: "vllm", baseGguf: join(dir, "base.gguf") });
    expect(await readdir(join(dir, "out", "adapters"))).toHaveLength(3);
  });

  it("rewrites a PEFT expert with per-module ranks, which vLLM would scale wrongly", async () => {
    const expertsDir = await writeExpertsDir(dir, [
      { name: "code", adapter: "adapters/code" },
      { name: "math", adapter: "adapters/math" },
    ]);
    const mixed = peftShapes(4).map((s, i) => ({ ...s, rank: i === 0 ? 8 : 4 }));
    await writeRandomAdapter(join(expertsDir, "adapters", "code"), "peft", mixed, { seed: 5, alpha: 16 });
    await writeRandomAdapter(join(expertsDir, "adapters", "math"), "peft", peftShapes(4), { seed: 6 });
    const source = JSON.parse(
      await readFile(join(expertsDir, "adapters", "code", "adapter_config.json"), "utf8"),
    );
    expect(Object.keys(source.rank_pattern)).toHaveLength(5);
    const report = await build(expertsDir, { engine: "vllm" });
    const config = JSON.parse(
      await readFile(join(dir, "out", "adapters", "herd-code", "adapter_config.json"), "utf8"),
    );
    expect(config).toMatchObject({ r: 8, lora_alpha: 8, rank_pattern: {} });
    await expectWeightedSum(join(dir, "out", "adapters", "herd-code"), [
      { path: join(expertsDir, "adapters", "code"), weight: 1 },
    ]);
    expect(report.launch?.settings).toMatchObject({ largestRank: 12, maxLoraRank: 16 });
  });
});

describe("buildForEngine lorax", () => {
  it("writes PEFT folders and names the adapters folder as the container sees it", async () => {
    const expertsDir = await writePeftExperts(dir);
    const report = await build(expertsDir, { engine: "lorax", engineDir: "/data" });
    expect(await readdir(join(dir, "out", "adapters"))).toHaveLength(6);
    const launch = await launchJson();
    expect(launch.provider).toEqual({
      name: "lorax",
      url: "http://127.0.0.1:8080",
      adapterDir: "/data/adapters",
      blends: ["herd-blend-code-math-50-50", "herd-blend-code-poetry-50-50", "herd-blend-math-poetry-50-50"],
    });
    expect(launch.argv).toEqual([
      "lorax-launcher",
      "--model-id",
      "test/tiny-llama",
      "--port",
      "8080",
      "--preloaded-adapter-ids",
      "/data/adapters/herd-code",
      "--preloaded-adapter-ids",
      "/data/adapters/herd-math",
      "--preloaded-adapter-ids",
      "/data/adapters/herd-poetry",
      "--preloaded-adapter-source",
      "local",
    ]);
    expect(report.launch?.adapters.map((a) => a.path)).toContain("/data/adapters/herd-blend-code-math-50-50");
  });

  it("with native merges and a local model folder, the config names its tokenizer_config.json", async () => {
    const expertsDir = await writePeftExperts(dir);
    const model = join(dir, "models", "tiny-llama");
    await mkdir(model, { recursive: true });
    await writeFile(
      join(model, "tokenizer_config.json"),
      JSON.stringify({ chat_template: "{{ messages }}" }),
    );
    const report = await build(expertsDir, { engine: "lorax", nativeMerge: true, model });
    expect(report.launch?.provider).toMatchObject({ tokenizerConfig: join(model, "tokenizer_config.json") });
    // the provider it configures starts: a native merge without a template would be refused
    const config = await loadConfigFile(join(dir, "out", "herd.config.json"));
    const { LoraxChatProvider } = await import("../../../src/providers/chat/lorax/index.js");
    const provider = new LoraxChatProvider(config.provider as object);
    await expect(provider.prepare()).resolves.toBeUndefined();
  });

  it("prints a herd serve command whose config file tells the provider where LoRAX sees the adapters", async () => {
    const expertsDir = await writePeftExperts(dir);
    const report = await build(expertsDir, { engine: "lorax", engineDir: "/data", nativeMerge: true });
    const args = report.launch!.serveCommand.split(" ");
    expect(args.slice(0, 4)).toEqual(["herd", "serve", "--provider", "lorax:http://127.0.0.1:8080"]);
    const configFile = args[args.indexOf("--config-file") + 1]!;
    const config = await loadConfigFile(configFile);
    expect(config.expertsDir).toBe(expertsDir);
    expect(config.blend).toMatchObject({ grid: 0.5 }); // the build's grid, not the default 0.25
    expect(config.provider).toEqual({
      name: "lorax",
      url: "http://127.0.0.1:8080",
      adapterDir: "/data/adapters",
      merge: { strategy: "linear" },
    });
  });

  it("with native merges writes no blends, and removes the blends of an earlier build", async () => {
    const expertsDir = await writePeftExperts(dir);
    await build(expertsDir, { engine: "lorax" });
    const report = await build(expertsDir, { engine: "lorax", nativeMerge: true });
    expect((await readdir(join(dir, "out", "adapters"))).sort()).toEqual([
      "herd-code",
      "herd-math",
      "herd-poetry",
    ]);
    expect(report.removed.map((p) => p.split("/").at(-1))).toEqual([
      "herd-blend-code-math-50-50",
      "herd-blend-code-poetry-50-50",
      "herd-blend-math-poetry-50-50",
    ]);
    expect(report.unchanged).toEqual(["herd-code", "herd-math", "herd-poetry"]);
    expect((await launchJson()).settings).toEqual({
      adapterDir: join(dir, "out", "adapters"),
      nativeMerge: true,
    });
  });
});

describe("buildForEngine llama-server", () => {
  it("converts PEFT experts to GGUF, lists them in experts.json order and writes no blends", async () => {
    const expertsDir = await writeTinyExperts(dir, "peft");
    const report = await build(expertsDir, { engine: "llama-server" });
    expect(await readdir(join(dir, "out", "adapters"))).toEqual(["herd-code.gguf", "herd-math.gguf"]);
    const launch = await launchJson();
    const out = (name: string) => join(dir, "out", "adapters", name);
    expect(launch.argv).toEqual([
      "llama-server",
      "-m",
      join(dir, "base.gguf"),
      "--lora",
      out("herd-code.gguf"),
      "--lora",
      out("herd-math.gguf"),
      "--lora-init-without-apply",
      "--jinja",
      "--port",
      "8080",
    ]);
    expect(report.launch?.adapters.map((a) => [a.id, a.name, a.rank])).toEqual([
      [0, "herd-code", 4],
      [1, "herd-math", 8],
    ]);
    // The GGUF file has the same delta as the PEFT expert, seen through the base's layout.
    const base = await readGgufHeader(join(dir, "base.gguf"));
    const peft = await openAdapter(join(expertsDir, "adapters", "math"));
    const view = convertAdapter(peft, "gguf", base);
    const gguf = await openAdapter(out("herd-math.gguf"));
    try {
      expect(gguf.architecture).toBe("llama");
      for (const m of view.modules) {
        expect(relativeError(await moduleDelta(gguf, m.name), await moduleDelta(view, m.name))).toBeLessThan(
          1e-5,
        );
      }
    } finally {
      await Promise.all([peft.close(), gguf.close()]);
    }
  });

  it("copies GGUF experts as they are and wants a GGUF base", async () => {
    const expertsDir = await writeTinyExperts(dir, "gguf");
    const report = await build(expertsDir, {
      engine: "llama-server",
      model: "/models/base.gguf",
      port: 9000,
    });
    expect(await readFile(join(dir, "out", "adapters", "herd-code.gguf"))).toEqual(
      await readFile(join(expertsDir, "adapters", "code.gguf")),
    );
    expect(report.launch?.commandLine).toMatch(
      /^llama-server -m \/models\/base\.gguf --lora .* --port 9000$/,
    );
    await expect(build(expertsDir, { engine: "llama-server", model: "org/tiny" })).rejects.toThrow(
      'llama-server loads a GGUF base model: pass --model BASE.gguf, got "org/tiny".',
    );
    const file = join(expertsDir, "experts.json");
    await writeFile(
      file,
      JSON.stringify({ ...JSON.parse(await readFile(file, "utf8")), baseModel: "llama3.2:1b" }),
    );
    await expect(build(expertsDir, { engine: "llama-server" })).rejects.toThrow(
      'llama-server loads a GGUF base model, but experts.json baseModel is "llama3.2:1b": pass --model BASE.gguf.',
    );
    const withBase = await build(expertsDir, { engine: "llama-server", baseGguf: join(dir, "base.gguf") });
    expect(withBase.launch?.argv.slice(0, 3)).toEqual(["llama-server", "-m", join(dir, "base.gguf")]);
  });
});

describe("buildForEngine idempotence and dry runs", () => {
  it("does no work the second time, and rewrites only what an input change touches", async () => {
    const expertsDir = await writePeftExperts(dir);
    await build(expertsDir, { engine: "vllm" });
    const launchBefore = await stat(join(dir, "out", "launch.json"));
    const blendBefore = await stat(
      join(dir, "out", "adapters", "herd-blend-code-math-50-50", "adapter_model.safetensors"),
    );
    const again = await build(expertsDir, { engine: "vllm" });
    expect(again.written).toEqual([]);
    expect(again.unchanged).toHaveLength(6);
    expect((await stat(join(dir, "out", "launch.json"))).mtimeMs).toBe(launchBefore.mtimeMs);
    expect(
      (await stat(join(dir, "out", "adapters", "herd-blend-code-math-50-50", "adapter_model.safetensors")))
        .mtimeMs,
    ).toBe(blendBefore.mtimeMs);

    await writeRandomAdapter(join(expertsDir, "adapters", "poetry"), "peft", peftShapes(12), {
      seed: 9,
      alpha: 6,
    });
    const changed = await build(expertsDir, { engine: "vllm" });
    expect(changed.written).toEqual([
      "herd-poetry",
      "herd-blend-code-poetry-50-50",
      "herd-blend-math-poetry-50-50",
    ]);

    // A damaged output is noticed and written again.
    await rm(join(dir, "out", "adapters", "herd-math", "adapter_config.json"));
    expect((await build(expertsDir, { engine: "vllm" })).written).toEqual(["herd-math"]);
    expect((await build(expertsDir, { engine: "vllm", force: true })).written).toHaveLength(6);
  });

  it("in a copied build folder: nothing to rewrite, and stale blends removed there, not in the original", async () => {
    const expertsDir = await writePeftExperts(dir);
    await build(expertsDir, { engine: "vllm" });
    await cp(join(dir, "out"), join(dir, "copy"), { recursive: true });
    const report = await build(expertsDir, {
      engine: "vllm",
      outDir: join(dir, "copy"),
      pairs: [["code", "math"]],
    });
    expect(report.removed).toEqual([
      join(dir, "copy", "adapters", "herd-blend-code-poetry-50-50"),
      join(dir, "copy", "adapters", "herd-blend-math-poetry-50-50"),
    ]);
    expect(report.written).toEqual([]);
    expect(report.unchanged).toHaveLength(4);
    expect(await readdir(join(dir, "copy", "adapters"))).toHaveLength(4);
    expect(await readdir(join(dir, "out", "adapters"))).toHaveLength(6);
  });

  it("dry run: lists what would be written and the missing adapters, and writes nothing", async () => {
    const expertsDir = await writeExpertsDir(dir, [
      { name: "code", adapter: "adapters/code" },
      { name: "math", adapter: "adapters/math" },
    ]);
    await writeRandomAdapter(join(expertsDir, "adapters", "code"), "peft", peftShapes(4), { seed: 1 });
    const report = await build(expertsDir, { engine: "vllm", dryRun: true });
    expect(report.adapters.map((a) => a.path)).toEqual(
      ["herd-code", "herd-math", "herd-blend-code-math-50-50"].map((n) => join(dir, "out", "adapters", n)),
    );
    expect(report.missing).toEqual([join(expertsDir, "adapters", "math")]);
    expect(report.launch).toBeUndefined();
    expect(await stat(join(dir, "out")).catch(() => undefined)).toBeUndefined();
    await expect(build(expertsDir, { engine: "vllm" })).rejects.toThrow(
      `Missing adapter or model files: ${join(expertsDir, "adapters", "math")}.`,
    );
  });
});

describe("buildForEngine bad input", () => {
  it("refuses experts trained on different bases, naming both", async () => {
    const expertsDir = await writeExpertsDir(dir, [
      { name: "code", adapter: "adapters/code" },
      { name: "math", adapter: "adapters/math" },
    ]);
    await writeRandomAdapter(join(expertsDir, "adapters", "code"), "peft", peftShapes(4), { seed: 1 });
    await writeRandomAdapter(join(expertsDir, "adapters", "math"), "peft", peftShapes(4), {
      seed: 2,
      baseModel: "org/other-model",
    });
    await expect(build(expertsDir, { engine: "vllm" })).rejects.toThrow(
      /was trained on "org\/other-model" but .* on "test\/tiny-llama"/,
    );
  });

  it("refuses an adapter whose tensors do not match its rank", async () => {
    const expertsDir = await writePeftExperts(dir);
    const file = join(expertsDir, "adapters", "math", "adapter_config.json");
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, "utf8")), r: 7 }));
    await expect(build(expertsDir, { engine: "lorax" })).rejects.toThrow(/do not match rank r=7/);
  });

  it("refuses an Ollama tag as the vLLM base when the adapters do not record theirs", async () => {
    const expertsDir = await writeTinyExperts(dir, "peft");
    const file = join(expertsDir, "experts.json");
    await writeFile(
      file,
      JSON.stringify({ ...JSON.parse(await readFile(file, "utf8")), baseModel: "llama3.2:1b" }),
    );
    const error = await build(expertsDir, { engine: "vllm" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('experts.json baseModel is "llama3.2:1b" (an Ollama tag)');
  });

  it("refuses blends above vLLM's largest rank, and two experts served under one name", async () => {
    const expertsDir = await writeExpertsDir(dir, [
      { name: "code", adapter: "adapters/code" },
      { name: "math", adapter: "adapters/math" },
    ]);
    for (const [name, seed] of [
      ["code", 1],
      ["math", 2],
    ] as const) {
      await writeRandomAdapter(join(expertsDir, "adapters", name), "peft", peftShapes(300, ["q_proj"]), {
        seed,
      });
    }
    await expect(build(expertsDir, { engine: "vllm" })).rejects.toThrow(
      /"herd-blend-code-math-50-50" has rank 600, above vLLM's largest --max-lora-rank \(512\)/,
    );
    const file = join(expertsDir, "experts.json");
    const data = JSON.parse(await readFile(file, "utf8"));
    data.experts[1].model = "herd-code";
    await writeFile(file, JSON.stringify(data));
    await expect(build(expertsDir, { engine: "vllm" })).rejects.toThrow(ExpertConfigError);
  });
});
