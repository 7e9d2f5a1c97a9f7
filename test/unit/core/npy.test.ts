import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CentroidStore, readCentroidFolder } from "../../../src/core/centroid-store.js";
import { DimensionMismatchError, FileFormatError } from "../../../src/core/errors.js";
import { formatNpy, parseNpy } from "../../../src/core/npy.js";

/** Writes a .npy exactly the way numpy.save does for a float64 array (format 1.0, 64-byte aligned header). */
function numpyFloat64(values: number[], shape: string): Buffer {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': ${shape}, }`;
  header += " ".repeat(64 - ((10 + header.length + 1) % 64)) + "\n";
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(values.length * 8);
  values.forEach((x, i) => {
    data.writeDoubleLE(x, i * 8);
  });
  return Buffer.concat([head, Buffer.from(header, "latin1"), data]);
}

describe(".npy files", () => {
  it("round-trips float32 vectors with a 64-byte aligned header", () => {
    const bytes = formatNpy(Float32Array.from([1.5, -2, 3.25]));
    expect((bytes.length - 12) % 64).toBe(0);
    const { shape, data } = parseNpy(bytes);
    expect(shape).toEqual([3]);
    expect(Array.from(data)).toEqual([1.5, -2, 3.25]);
  });

  it("reads numpy float64 files such as the original Python Herd's centroids", () => {
    const parsed = parseNpy(numpyFloat64([0.1, 0.2, 0.3, 0.4], "(1, 4)"));
    expect(parsed.shape).toEqual([1, 4]);
    expect(parsed.data).toBeInstanceOf(Float64Array);
    expect(parsed.data[3]).toBe(0.4);
  });

  it("names the file and the problem on bad input", () => {
    expect(() => parseNpy(Buffer.from("hello world"), "qa.npy")).toThrow(/qa\.npy is not a \.npy file/);
    const truncated = numpyFloat64([1, 2, 3], "(3,)").subarray(0, 100);
    expect(() => parseNpy(truncated, "x.npy")).toThrow(FileFormatError);
    const int = Buffer.from(numpyFloat64([1], "(1,)").toString("latin1").replace("<f8", "<i8"), "latin1");
    expect(() => parseNpy(int, "i.npy")).toThrow(/dtype <i8 is not supported/);
  });

  it("imports a folder of Python Herd centroids and rejects mixed dimensions", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-npy-"));
    await writeFile(join(dir, "qa.npy"), numpyFloat64([3, 4], "(2,)"));
    await writeFile(join(dir, "code.npy"), numpyFloat64([0, 2], "(1, 2)"));
    const centroids = await readCentroidFolder(dir);
    expect([...centroids.keys()].sort()).toEqual(["code", "qa"]);
    expect(Array.from(centroids.get("qa")!)).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    await writeFile(join(dir, "general.npy"), numpyFloat64([1, 2, 3], "(3,)"));
    await expect(readCentroidFolder(dir)).rejects.toBeInstanceOf(DimensionMismatchError);
  });
});

describe("CentroidStore", () => {
  it("saves atomically per embedder and loads what it saved", async () => {
    const root = await mkdtemp(join(tmpdir(), "herd-store-"));
    const store = new CentroidStore(root);
    const set = {
      manifest: {
        version: 1 as const,
        embedder: "hashing-v1:d4",
        dimension: 2,
        samples: 100,
        seed: 42,
        experts: { qa: { examples: 3, sampled: 3, examplesHash: "abc" } },
        createdAt: "2026-01-01T00:00:00.000Z",
      },
      centroids: new Map([["qa", Float32Array.from([0.6, 0.8])]]),
    };
    const folder = await store.save(set);
    expect(folder).toBe(join(root, "hashing-v1_d4"));
    expect((await readdir(root)).sort()).toEqual(["hashing-v1_d4"]);
    const loaded = await store.load("hashing-v1:d4");
    expect(loaded?.manifest).toEqual(set.manifest);
    expect(Array.from(loaded!.centroids.get("qa")!)).toEqual([
      expect.closeTo(0.6, 6),
      expect.closeTo(0.8, 6),
    ]);
    // saving again replaces the set and leaves no temporary folders behind
    await store.save({ ...set, centroids: new Map([["qa", Float32Array.from([1, 0])]]) });
    expect(await readdir(root)).toEqual(["hashing-v1_d4"]);
    expect(await store.load("other")).toBeUndefined();
    const manifest = JSON.parse(await readFile(join(folder, "manifest.json"), "utf8"));
    expect(manifest.embedder).toBe("hashing-v1:d4");
  });
});
