import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileFormatError } from "../../../src/core/errors.js";
import { GGUF_HEADER_LIMITS } from "../../../src/providers/gguf/header-parser.js";
import { ggufString, ggufStringArray, readGgufHeader } from "../../../src/providers/gguf/index.js";
import {
  writeByteArrays,
  writeDeeplyNested,
  writeHugeByteArray,
  writeHugeStringArray,
} from "../../helpers/crafted-gguf.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-gguf-hostile-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("hostile GGUF headers", () => {
  it("skips a 64 MB metadata array without materialising it, and reads the rest", async () => {
    const path = join(dir, "big.gguf");
    await writeHugeByteArray(path, 64 * 1024 * 1024);
    const header = await readGgufHeader(path);
    expect(ggufString(header, "general.architecture")).toBe("llama");
    expect(header.metadata.get("big")).toEqual({
      type: "array",
      itemType: "u8",
      value: [],
      skipped: 64 * 1024 * 1024,
    });
  });

  it("skips millions of strings, and says so when asked for them", async () => {
    const path = join(dir, "strings.gguf");
    await writeHugeStringArray(path, 2 * 1024 * 1024);
    const header = await readGgufHeader(path);
    expect(header.metadata.get("tokenizer.ggml.junk")).toMatchObject({ value: [], skipped: 2 * 1024 * 1024 });
    expect(() => ggufStringArray(header, "tokenizer.ggml.junk")).toThrow(
      new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.*2097152 strings, more than Herd reads`),
    );
  });

  it("refuses arrays nested 200,000 deep with an error naming the file, not a stack overflow", async () => {
    const path = join(dir, "deep.gguf");
    await writeDeeplyNested(path, 200_000);
    const error = await readGgufHeader(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileFormatError);
    expect((error as Error).message).toContain(`GGUF file "${path}" is corrupt`);
    expect((error as Error).message).toContain(
      `nests arrays more than ${GGUF_HEADER_LIMITS.maxNesting} deep`,
    );
  });

  it("refuses an array that declares more items than the file holds, naming the file", async () => {
    const path = join(dir, "liar.gguf");
    await writeHugeByteArray(path, 16);
    const bytes = Buffer.from(await import("node:fs/promises").then((fs) => fs.readFile(path)));
    bytes.writeBigUInt64LE(64n * 1024n * 1024n, bytes.length - 16 - 8); // the count, 64 M
    await writeFile(path, bytes);
    await expect(readGgufHeader(path)).rejects.toThrow(
      /GGUF file ".*liar\.gguf" is corrupt: metadata "big" claims 67108864 items, more than the file holds/,
    );
  });

  it("keeps arrays of a real vocabulary, and stops materialising past the header-wide budget", async () => {
    const path = join(dir, "budget.gguf");
    const million = GGUF_HEADER_LIMITS.maxArrayItems;
    await writeByteArrays(path, 5, million);
    const header = await readGgufHeader(path);
    const kept = [...header.metadata.values()].map((v) => (v.type === "array" ? v.value.length : -1));
    expect(kept).toEqual([million, million, million, million, 0]);
    expect(header.metadata.get("a4")).toMatchObject({ skipped: million });
  });
});
