/**
 * Merge throughput and peak memory on adapters the size of a Llama-2-7B rank-64 LoRA on every
 * linear module (q, k, v, o, gate, up, down in 32 layers: about 160 M parameters, F16 on disk),
 * against the time to simply read the inputs once.
 *
 *   npx tsx bench/merge.ts [--layers 32] [--rank 64] [--formats gguf,peft] [--keep]
 *
 * Two synthetic adapters are written to a temp folder; each measurement runs in a fresh child
 * process so its peak RSS is its own. The files were just written, so reads come from the page
 * cache: "read inputs once" is the floor for reading, "copy inputs once" (read + write the same
 * bytes) the floor for a tool that reads and writes that much.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  type AdapterOutput,
  writeGgufLora,
  writePeftAdapter,
} from "../src/providers/adapters/adapter-writer.js";
import type { AdapterFormat } from "../src/providers/adapters/lora-adapter.js";
import { mergeAdapterFiles } from "../src/providers/adapters/merge.js";
import { openAdapter } from "../src/providers/adapters/open-adapter.js";

const { values: args } = parseArgs({
  options: {
    layers: { type: "string", default: "32" },
    rank: { type: "string", default: "64" },
    formats: { type: "string", default: "gguf,peft" },
    keep: { type: "boolean", default: false },
    child: { type: "string" },
    inputs: { type: "string" },
    out: { type: "string" },
    dtype: { type: "string" },
  },
});

/** Peak memory while `work` runs, sampled every 5 ms, plus the process's max RSS. */
async function measure(work: () => Promise<number>) {
  let heap = 0;
  let external = 0;
  const sample = () => {
    const m = process.memoryUsage();
    heap = Math.max(heap, m.heapUsed);
    external = Math.max(external, m.arrayBuffers);
  };
  const timer = setInterval(sample, 5);
  const started = performance.now();
  const bytes = await work();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  sample();
  return {
    seconds,
    bytes,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    heapMb: heap / 2 ** 20,
    buffersMb: external / 2 ** 20,
  };
}

async function sizeOf(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.size;
  return (
    (await stat(join(path, "adapter_model.safetensors"))).size +
    (await stat(join(path, "adapter_config.json"))).size
  );
}

if (args.child) {
  const inputs = args.inputs!.split(",");
  const result = await measure(async () => {
    if (args.child === "read" || args.child === "copy") {
      // Read every byte of the inputs once, in 8 MB chunks (and write them to one file for "copy").
      const buffer = Buffer.allocUnsafe(8 << 20);
      const out = args.child === "copy" ? await open(args.out!, "w") : undefined;
      let total = 0;
      for (const input of inputs) {
        const file = (await stat(input)).isDirectory() ? join(input, "adapter_model.safetensors") : input;
        const handle = await open(file, "r");
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
          if (bytesRead === 0) break;
          await out?.write(buffer, 0, bytesRead);
          total += bytesRead;
        }
        await handle.close();
      }
      await out?.close();
      return total;
    }
    if (args.child === "decode") {
      // Read every tensor through the adapter readers (decoded to float32), as the merge does.
      for (const input of inputs) {
        const adapter = await openAdapter(input);
        for (const m of adapter.modules) await Promise.all([adapter.readA(m.name), adapter.readB(m.name)]);
        await adapter.close();
      }
      return (await Promise.all(inputs.map(sizeOf))).reduce((a, b) => a + b, 0);
    }
    await mergeAdapterFiles(
      args.out!,
      inputs.map((path) => ({ path, weight: 1 / inputs.length })),
      { dtype: args.dtype as "auto" | "F32" },
    );
    return (await Promise.all(inputs.map(sizeOf))).reduce((a, b) => a + b, 0);
  });
  process.stdout.write(
    `${JSON.stringify({ ...result, outputBytes: args.out ? await sizeOf(args.out) : 0 })}\n`,
  );
  process.exit(0);
}

const layers = Number(args.layers);
const rank = Number(args.rank);
const E = 4096;
const F = 11008;
const modules = (format: AdapterFormat) =>
  Array.from(
    { length: layers },
    () =>
      [
        ["attn_q", "self_attn.q_proj", E, E],
        ["attn_k", "self_attn.k_proj", E, E],
        ["attn_v", "self_attn.v_proj", E, E],
        ["attn_output", "self_attn.o_proj", E, E],
        ["ffn_gate", "mlp.gate_proj", E, F],
        ["ffn_up", "mlp.up_proj", E, F],
        ["ffn_down", "mlp.down_proj", F, E],
      ] as const,
  ).flatMap((layer, l) =>
    layer.map(([gguf, peft, inFeatures, outFeatures]) => ({
      name: format === "gguf" ? `blk.${l}.${gguf}.weight` : `model.layers.${l}.${peft}`,
      inFeatures,
      outFeatures,
    })),
  );

function synthetic(format: AdapterFormat, seed: number): AdapterOutput {
  let s = seed;
  const fill = (n: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      out[i] = (s / 4294967296 - 0.5) * 0.02;
    }
    return out;
  };
  return {
    architecture: "llama",
    baseModel: "meta-llama/Llama-2-7b-hf",
    modules: modules(format).map((m) => ({
      ...m,
      rank,
      a: async () => fill(rank * m.inFeatures),
      b: async () => fill(m.outFeatures * rank),
    })),
  };
}

function child(mode: string, inputs: string[], out?: string, dtype?: string) {
  const self = fileURLToPath(import.meta.url);
  const argv = ["--import", "tsx", self, "--child", mode, "--inputs", inputs.join(",")];
  if (out) argv.push("--out", out, "--dtype", dtype ?? "auto");
  const run = spawnSync(process.execPath, argv, { encoding: "utf8", maxBuffer: 1 << 20 });
  if (run.status !== 0) throw new Error(`child ${mode} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!) as Awaited<ReturnType<typeof measure>> & {
    outputBytes: number;
  };
}

const dir = await mkdtemp(join(tmpdir(), "herd-bench-merge-"));
const params = modules("gguf").reduce((n, m) => n + rank * (m.inFeatures + m.outFeatures), 0);
console.log(
  `synthetic adapter: ${layers} layers x 7 modules, rank ${rank}, ${(params / 1e6).toFixed(1)} M parameters, F16`,
);
console.log(
  "mode                          input MB  output MB   seconds    MB/s in  max RSS MB  peak heap MB  peak buffers MB",
);
const row = (label: string, r: ReturnType<typeof child>) =>
  console.log(
    `${label.padEnd(28)}${(r.bytes / 1e6).toFixed(0).padStart(10)}${(r.outputBytes / 1e6).toFixed(0).padStart(11)}` +
      `${r.seconds.toFixed(2).padStart(10)}${(r.bytes / 1e6 / r.seconds).toFixed(0).padStart(11)}` +
      `${r.maxRssMb.toFixed(0).padStart(12)}${r.heapMb.toFixed(0).padStart(14)}${r.buffersMb.toFixed(0).padStart(17)}`,
  );
try {
  for (const format of args.formats.split(",") as AdapterFormat[]) {
    const ext = format === "gguf" ? ".gguf" : "";
    const inputs = [join(dir, `one${ext}`), join(dir, `two${ext}`)];
    const started = performance.now();
    for (const [i, path] of inputs.entries()) {
      if (format === "gguf") await writeGgufLora(path, synthetic(format, i + 1), { dtype: "F16", alpha: 16 });
      else await writePeftAdapter(path, synthetic(format, i + 1), { dtype: "F16", loraAlpha: 16 });
    }
    console.log(`-- ${format}: wrote 2 inputs in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    row(`${format} read inputs once`, child("read", inputs));
    row(`${format} copy inputs once`, child("copy", inputs, join(dir, "copy.bin")));
    await rm(join(dir, "copy.bin"), { force: true });
    row(`${format} read + decode to f32`, child("decode", inputs));
    row(`${format} merge 2 -> f16 (auto)`, child("merge", inputs, join(dir, `m16${ext}`), "auto"));
    await rm(join(dir, `m16${ext}`), { recursive: true, force: true });
    row(`${format} merge 2 -> f32 (exact)`, child("merge", inputs, join(dir, `m32${ext}`), "F32"));
    await rm(join(dir, `m32${ext}`), { recursive: true, force: true });
    if (!args.keep) for (const path of inputs) await rm(path, { recursive: true, force: true });
  }
} finally {
  if (!args.keep) await rm(dir, { recursive: true, force: true });
}
