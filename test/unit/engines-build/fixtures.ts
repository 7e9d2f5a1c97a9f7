import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { mergeAdapterFiles } from "../../../src/providers/adapters/merge.js";
import { writeTinyLora, writeTinyModel } from "../../../src/providers/llamacpp/tiny-model.js";
import { type ModuleShape, writeRandomAdapter } from "../adapters/random-adapters.js";

/** HF module shapes of a small llama-like model, at a given rank. */
export function peftShapes(rank: number, targets = ["q_proj", "v_proj", "down_proj"]): ModuleShape[] {
  const shapes: ModuleShape[] = [];
  for (const layer of [0, 1]) {
    for (const t of targets) {
      const mlp = t.endsWith("proj") && ["gate_proj", "up_proj", "down_proj"].includes(t);
      shapes.push({
        name: `model.layers.${layer}.${mlp ? "mlp" : "self_attn"}.${t}`,
        rank,
        inFeatures: t === "down_proj" ? 32 : 16,
        outFeatures: 16,
      });
    }
  }
  return shapes;
}

/** An experts folder: experts.json plus one adapter per expert, written by `write`. */
export async function writeExpertsDir(
  dir: string,
  experts: { name: string; adapter: string; model?: string }[],
  baseModel = "test/tiny-llama",
): Promise<string> {
  const expertsDir = join(dir, "experts");
  await mkdir(join(expertsDir, "adapters"), { recursive: true });
  await writeFile(
    join(expertsDir, "experts.json"),
    JSON.stringify({
      baseModel,
      experts: experts.map((e) => ({ ...e, examples: [`a ${e.name} prompt`] })),
    }),
  );
  return expertsDir;
}

/** Three PEFT experts of ranks 4, 8 and 12 (alphas 8, 16, 6), trained on `test/tiny-llama`. */
export async function writePeftExperts(dir: string): Promise<string> {
  const specs = [
    { name: "code", rank: 4, alpha: 8, seed: 1 },
    { name: "math", rank: 8, alpha: 16, seed: 2 },
    { name: "poetry", rank: 12, alpha: 6, seed: 3 },
  ];
  const expertsDir = await writeExpertsDir(
    dir,
    specs.map((s) => ({ name: s.name, adapter: `adapters/${s.name}` })),
  );
  for (const s of specs) {
    await writeRandomAdapter(join(expertsDir, "adapters", s.name), "peft", peftShapes(s.rank), {
      seed: s.seed,
      alpha: s.alpha,
    });
  }
  return expertsDir;
}

/**
 * The tiny GGUF llama model as `base.gguf` and two GGUF LoRA experts for it (`code` rank 4,
 * `math` rank 8), optionally converted to PEFT folders with the base.
 */
export async function writeTinyExperts(dir: string, format: "gguf" | "peft"): Promise<string> {
  const base = join(dir, "base.gguf");
  await writeTinyModel(base);
  const specs = [
    { name: "code", rank: 4, alpha: 8, targets: ["attn_q", "attn_v", "ffn_up"] },
    { name: "math", rank: 8, alpha: 4, targets: ["attn_q", "attn_k", "ffn_down"] },
  ];
  const expertsDir = await writeExpertsDir(
    dir,
    specs.map((s) => ({ name: s.name, adapter: `adapters/${s.name}${format === "gguf" ? ".gguf" : ""}` })),
    base,
  );
  for (const s of specs) {
    const gguf = join(dir, `${s.name}.gguf`);
    await writeTinyLora(gguf, {}, { seed: s.name, ...s });
    const target = join(expertsDir, "adapters", format === "gguf" ? `${s.name}.gguf` : s.name);
    await mergeAdapterFiles(target, [{ path: gguf, weight: 1 }], { format, baseModel: base, dtype: "F32" });
  }
  return expertsDir;
}
