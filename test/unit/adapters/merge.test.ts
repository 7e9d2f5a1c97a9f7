import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GgufLoraAdapter } from "../../../src/providers/adapters/gguf-lora-adapter.js";
import type { AdapterFormat } from "../../../src/providers/adapters/lora-adapter.js";
import { mergeAdapterFiles } from "../../../src/providers/adapters/merge.js";
import { openAdapter } from "../../../src/providers/adapters/open-adapter.js";
import { ggufNumber } from "../../../src/providers/gguf/index.js";
import {
  denseDelta,
  type ModuleShape,
  moduleDelta,
  relativeError,
  writeRandomAdapter,
} from "./random-adapters.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-merge-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const names: Record<AdapterFormat, (layer: number, m: "q" | "v" | "down") => string> = {
  gguf: (l, m) => `blk.${l}.${{ q: "attn_q", v: "attn_v", down: "ffn_down" }[m]}.weight`,
  peft: (l, m) =>
    `model.layers.${l}.${{ q: "self_attn.q_proj", v: "self_attn.v_proj", down: "mlp.down_proj" }[m]}`,
};

function shapes(format: AdapterFormat, rank: number, which: ("q" | "v" | "down")[]): ModuleShape[] {
  return which.flatMap((m) =>
    [0, 1].map((layer) => ({
      name: names[format](layer, m),
      rank,
      inFeatures: m === "down" ? 24 : 16,
      outFeatures: m === "v" ? 8 : 16,
    })),
  );
}

describe.each(["gguf", "peft"] as const)("linear merge of %s adapters", (format) => {
  const ext = format === "gguf" ? ".gguf" : "";

  it("gives delta = sum w_i * alpha_i / r_i * B_i A_i module by module, across ranks and partial overlap", async () => {
    // Adapter 1: rank 4, q and v. Adapter 2: rank 8, v and down. Adapter 3: rank 2, q only.
    const specs = [
      { path: join(dir, `one${ext}`), shapes: shapes(format, 4, ["q", "v"]), alpha: 8, weight: 0.5, seed: 1 },
      {
        path: join(dir, `two${ext}`),
        shapes: shapes(format, 8, ["v", "down"]),
        alpha: 32,
        weight: 0.3,
        seed: 2,
      },
      { path: join(dir, `three${ext}`), shapes: shapes(format, 2, ["q"]), alpha: 3, weight: -0.2, seed: 3 },
    ];
    const written: Map<string, { a: Float32Array; b: Float32Array }>[] = [];
    for (const s of specs)
      written.push(await writeRandomAdapter(s.path, format, s.shapes, { seed: s.seed, alpha: s.alpha }));

    const out = join(dir, `merged${ext}`);
    const result = await mergeAdapterFiles(
      out,
      specs.map((s) => ({ path: s.path, weight: s.weight })),
    );
    expect(result.format).toBe(format);
    expect(result.modules).toBe(6);

    const merged = await openAdapter(out);
    try {
      expect(merged.modules.map((m) => m.name).sort()).toEqual(
        [...new Set(specs.flatMap((s) => s.shapes.map((m) => m.name)))].sort(),
      );
      for (const module of merged.modules) {
        const expected = new Float64Array(module.outFeatures * module.inFeatures);
        let rank = 0;
        specs.forEach((s, i) => {
          const shape = s.shapes.find((m) => m.name === module.name);
          if (!shape) return;
          rank += shape.rank;
          const { a, b } = written[i]!.get(module.name)!;
          const scale = (s.weight * s.alpha) / shape.rank;
          const delta = denseDelta(a, b, shape.rank, shape.outFeatures, shape.inFeatures, scale);
          for (let j = 0; j < delta.length; j++) expected[j]! += delta[j]!;
        });
        expect(relativeError(await moduleDelta(merged, module.name), expected)).toBeLessThan(1e-5);
        if (format === "gguf") expect(module.rank).toBe(rank);
        expect(module.scale).toBe(1);
      }
    } finally {
      await merged.close();
    }
  });

  it("reads F16 and BF16 inputs", async () => {
    const one = join(dir, `one${ext}`);
    const two = join(dir, `two${ext}`);
    const s = shapes(format, 4, ["q"]);
    await writeRandomAdapter(one, format, s, { seed: 5, alpha: 8, dtype: "F16" });
    await writeRandomAdapter(two, format, s, { seed: 6, alpha: 2, dtype: "BF16" });
    const out = join(dir, `merged${ext}`);
    await mergeAdapterFiles(out, [
      { path: one, weight: 0.5 },
      { path: two, weight: 0.5 },
    ]);
    const [a, b, merged] = await Promise.all([openAdapter(one), openAdapter(two), openAdapter(out)]);
    try {
      for (const { name } of s) {
        const da = await moduleDelta(a, name);
        const db = await moduleDelta(b, name);
        const expected = da.map((x, i) => 0.5 * x + 0.5 * db[i]!);
        expect(relativeError(await moduleDelta(merged, name), expected)).toBeLessThan(1e-5);
      }
    } finally {
      await Promise.all([a.close(), b.close(), merged.close()]);
    }
  });
});

describe("merged output conventions", () => {
  it("GGUF output has alpha 0 (scale 1) and keeps the architecture", async () => {
    const one = join(dir, "one.gguf");
    await writeRandomAdapter(one, "gguf", shapes("gguf", 4, ["q"]), {
      seed: 1,
      alpha: 8,
      architecture: "qwen2",
    });
    await mergeAdapterFiles(join(dir, "m.gguf"), [{ path: one, weight: 1 }]);
    const merged = await GgufLoraAdapter.open(join(dir, "m.gguf"));
    expect(merged.architecture).toBe("qwen2");
    expect(ggufNumber(merged.header, "adapter.lora.alpha")).toBe(0);
    await merged.close();
  });

  it("PEFT output pads every module to one rank r with lora_alpha = r, so alpha / r = 1 everywhere", async () => {
    const one = join(dir, "one");
    const two = join(dir, "two");
    await writeRandomAdapter(one, "peft", shapes("peft", 4, ["q", "v"]), { seed: 1 });
    await writeRandomAdapter(two, "peft", shapes("peft", 8, ["v"]), { seed: 2 });
    await mergeAdapterFiles(join(dir, "out"), [
      { path: one, weight: 1 },
      { path: two, weight: 1 },
    ]);
    const config = JSON.parse(await readFile(join(dir, "out", "adapter_config.json"), "utf8"));
    expect(config).toMatchObject({
      peft_type: "LORA",
      r: 12,
      lora_alpha: 12,
      base_model_name_or_path: "test/tiny-llama",
    });
    expect(config.target_modules).toEqual(["q_proj", "v_proj"]);
    const merged = await openAdapter(join(dir, "out"));
    expect(new Set(merged.modules.map((m) => m.rank))).toEqual(new Set([12]));
    await merged.close();
  });
});
