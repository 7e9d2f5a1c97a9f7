import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mergeAdapterFiles } from "../../../src/providers/adapters/merge.js";
import { openAdapter } from "../../../src/providers/adapters/open-adapter.js";
import { moduleDelta, relativeError, writeRandomAdapter } from "./random-adapters.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-peft-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const q = "model.layers.0.self_attn.q_proj";
const v = "model.layers.0.self_attn.v_proj";

async function editConfig(path: string, patch: Record<string, unknown>) {
  const file = join(path, "adapter_config.json");
  const config = JSON.parse(await readFile(file, "utf8"));
  await writeFile(file, JSON.stringify({ ...config, ...patch }));
}

describe("PEFT adapter_config.json", () => {
  it("scales by lora_alpha / sqrt(r) with use_rslora", async () => {
    const path = join(dir, "a");
    await writeRandomAdapter(path, "peft", [{ name: q, rank: 4, inFeatures: 8, outFeatures: 8 }], {
      seed: 1,
      alpha: 8,
    });
    await editConfig(path, { use_rslora: true });
    const adapter = await openAdapter(path);
    expect(adapter.module(q)!.scale).toBe(8 / 2);
    await adapter.close();
  });

  it("uses rank_pattern and alpha_pattern per module, and the merge honours them", async () => {
    const path = join(dir, "a");
    await writeRandomAdapter(
      path,
      "peft",
      [
        { name: q, rank: 4, inFeatures: 8, outFeatures: 8 },
        { name: v, rank: 2, inFeatures: 8, outFeatures: 4 },
      ],
      { seed: 1, alpha: 8 },
    );
    await editConfig(path, {
      r: 4,
      rank_pattern: { v_proj: 2 },
      alpha_pattern: { "layers\\.0\\.self_attn\\.v_proj": 6 },
    });
    const adapter = await openAdapter(path);
    expect(adapter.module(q)!.scale).toBe(8 / 4);
    expect(adapter.module(v)!.scale).toBe(6 / 2);
    const expected = await moduleDelta(adapter, v);
    await adapter.close();

    await mergeAdapterFiles(join(dir, "out"), [{ path, weight: 2 }]);
    const merged = await openAdapter(join(dir, "out"));
    expect(
      relativeError(
        await moduleDelta(merged, v),
        expected.map((x) => 2 * x),
      ),
    ).toBeLessThan(1e-5);
    await merged.close();
  });

  it.each([
    [{ peft_type: "IA3" }, /peft_type is "IA3"; Herd merges LORA adapters only/],
    [{ use_dora: true }, /use_dora is true; DoRA adapters cannot be merged linearly/],
    [{ r: 0 }, /r must be a positive integer/],
  ])("rejects %j naming the file", async (patch, message) => {
    const path = join(dir, "a");
    await writeRandomAdapter(path, "peft", [{ name: q, rank: 4, inFeatures: 8, outFeatures: 8 }], {
      seed: 1,
    });
    await editConfig(path, patch);
    const error = await openAdapter(path).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(join(path, "adapter_config.json"));
  });

  it("matches a catastrophic-backtracking pattern key in linear time", async () => {
    // With JavaScript's backtracking RegExp this key takes about 2^n steps on a module path of n
    // "a"s that does not match: ~27 s for n = 28. RE2 answers at once.
    const long = `model.${"a".repeat(5_000)}c`;
    const path = join(dir, "a");
    await writeRandomAdapter(path, "peft", [{ name: long, rank: 4, inFeatures: 8, outFeatures: 8 }], {
      seed: 1,
    });
    await editConfig(path, {
      r: 4,
      rank_pattern: { "(a+)+b": 2, "(a|aa)+$x": 3 },
      alpha_pattern: { "(a*)*b": 2 },
    });
    const adapter = await openAdapter(path);
    expect(adapter.module(long)!.rank).toBe(4);
    await adapter.close();
  });

  it.each([
    [
      { rank_pattern: { "(v)_\\1": 2 } },
      /rank_pattern key "\(v\)_\\\\1" is not a regular expression Herd can match safely/,
    ],
    [{ alpha_pattern: { "(?=v)proj": 2 } }, /alpha_pattern key "\(\?=v\)proj" is not a regular expression/],
    [
      { rank_pattern: { [`(${"x".repeat(2000)})`]: 2 } },
      /rank_pattern key "\(x+\.\.\." is 2002 characters long; at most 1000/,
    ],
  ])("refuses pattern keys it cannot match safely, naming the key: %#", async (patch, message) => {
    const path = join(dir, "a");
    await writeRandomAdapter(path, "peft", [{ name: q, rank: 4, inFeatures: 8, outFeatures: 8 }], {
      seed: 1,
    });
    await editConfig(path, patch);
    await expect(openAdapter(path)).rejects.toThrow(message);
    await expect(openAdapter(path)).rejects.toThrow(join(path, "adapter_config.json"));
  });
});
