import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseAdapterSpecs, registerMergeCommand } from "../../../src/cli/commands/merge.js";
import { UsageError } from "../../../src/cli/usage-error.js";
import { openAdapter } from "../../../src/providers/adapters/open-adapter.js";
import { moduleDelta, relativeError, writeRandomAdapter } from "./random-adapters.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-merge-cli-"));
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

async function herdMerge(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerMergeCommand(program);
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  await program.parseAsync(["node", "herd", "merge", ...args]);
  return out;
}

const shape = [{ name: "blk.0.attn_q.weight", rank: 4, inFeatures: 8, outFeatures: 8 }];

describe("herd merge", () => {
  it("merges with equal weights by default and reports what it wrote", async () => {
    const a = join(dir, "a.gguf");
    const b = join(dir, "b.gguf");
    await writeRandomAdapter(a, "gguf", shape, { seed: 1, alpha: 8 });
    await writeRandomAdapter(b, "gguf", shape, { seed: 2 });
    const out = await herdMerge("--out", join(dir, "m.gguf"), a, b);
    expect(out).toMatch(/wrote .*m\.gguf \(gguf\): 2 adapters, 1 modules, rank up to 8/);
    const [x, y, m] = await Promise.all([openAdapter(a), openAdapter(b), openAdapter(join(dir, "m.gguf"))]);
    const dx = await moduleDelta(x, shape[0]!.name);
    const dy = await moduleDelta(y, shape[0]!.name);
    const expected = dx.map((v, i) => (v + dy[i]!) / 2);
    expect(relativeError(await moduleDelta(m, shape[0]!.name), expected)).toBeLessThan(1e-5);
    await Promise.all([x.close(), y.close(), m.close()]);
  });

  it("names the missing output folder instead of a temporary file", async () => {
    const a = join(dir, "a.gguf");
    await writeRandomAdapter(a, "gguf", shape, { seed: 1 });
    const error = await herdMerge("--out", join(dir, "nodir", "m.gguf"), a).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      `Cannot write the merged adapter ${join(dir, "nodir", "m.gguf")}: the folder ${join(dir, "nodir")} does not exist. Create it first or choose another --out.`,
    );
    expect(await readdir(dir)).toEqual(["a.gguf"]);
  });

  it.each(["abc", "", "Infinity", "1e999"])("rejects the weight %j and writes nothing", async (weight) => {
    const a = join(dir, "a.gguf");
    await writeRandomAdapter(a, "gguf", shape, { seed: 1 });
    const error = await herdMerge("--out", join(dir, "m.gguf"), `${a}:${weight}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(
      `The weight "${weight}" in "${a}:${weight}" is not a finite number`,
    );
    expect(await readdir(dir)).toEqual(["a.gguf"]);
  });

  it("wants a weight on every adapter or on none", async () => {
    await expect(parseAdapterSpecs(["a.gguf:0.5", "b.gguf"])).rejects.toThrow(/every adapter or to none/);
  });

  it("takes an existing path with a colon whole, and weights as given", async () => {
    const odd = join(dir, "x:y.gguf");
    await writeRandomAdapter(odd, "gguf", shape, { seed: 1 });
    expect(await parseAdapterSpecs([odd])).toEqual([{ path: odd, weight: 1 }]);
    expect(await parseAdapterSpecs([`${odd}:-0.5`, "b.gguf:1.5"])).toEqual([
      { path: odd, weight: -0.5 },
      { path: "b.gguf", weight: 1.5 },
    ]);
  });
});
