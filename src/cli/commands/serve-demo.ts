import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { stripBom } from "../../core/bom.js";
import type { HerdConfigInput } from "../../core/config.js";
import { EXPERTS_FILE } from "../../core/experts.js";
import { createDemoAssets, defaultDemoDir } from "../../providers/llamacpp/index.js";
import type { RoutingFlags } from "../common-options.js";
import { defaultExpertsDir } from "../open-herd.js";

/** What `herd serve --demo` prints at startup. */
export const DEMO_NOTICE = [
  "DEMO MODE: the model is a tiny llama with random weights and one random LoRA adapter per expert,",
  "generated offline. Routing, adapter blending and streaming are real llama.cpp; the text is gibberish.",
  "To serve a real model:",
  "  herd serve --provider llamacpp:path/to/base.gguf   (GGUF LoRA adapters named in experts/experts.json)",
  "  herd serve                                          (Ollama: start `ollama serve`, build the experts with `herd build`)",
].join("\n");

/** The base model name the demo reports. */
export const DEMO_BASE_MODEL = "herd-demo-tiny-llama";

/**
 * The config of the offline demo: nothing to install or download. The hashing embedder and the
 * memory index route over the experts (./experts or the bundled ones); a generated tiny llama model
 * with one LoRA per expert (written to the user's cache folder, `defaultDemoDir()`, and reused across
 * runs when their content hashes match) answers through the
 * llama.cpp provider, each expert's `adapter` pointing at its generated file. `onProgress` counts
 * the generated files.
 */
export async function demoConfig(
  flags: RoutingFlags,
  onProgress?: (done: number, total: number) => void,
): Promise<HerdConfigInput> {
  const expertsDir = resolve(flags.expertsDir ?? defaultExpertsDir());
  const raw = JSON.parse(stripBom(await readFile(join(expertsDir, EXPERTS_FILE), "utf8"))) as {
    experts: { name: string; adapter: string }[];
  };
  const demoDir = defaultDemoDir();
  const assets = await createDemoAssets(
    demoDir,
    raw.experts.map((e) => e.name),
    { onProgress },
  );
  return {
    expertsDir,
    // The router trained on the examples is kept with the demo assets, so later starts load it.
    centroidsDir: join(demoDir, "centroids"),
    experts: { ...raw, experts: raw.experts.map((e) => ({ ...e, adapter: assets.adapters[e.name] })) },
    baseModel: DEMO_BASE_MODEL,
    embedder: { name: "hashing" },
    index: { name: "memory" },
    provider: { name: "llamacpp", modelPath: assets.modelPath },
  };
}
