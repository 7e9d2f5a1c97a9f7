import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { writeAtomically } from "../adapters/atomic-output.js";

/** The sha256 of a file's content, hex, read as a stream (multi-GB files are fine). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The sha256 of a JSON-serializable value, hex (keys in the order given). */
export function sha256Json(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}

interface FileEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

interface ManifestData {
  version: 1;
  /** Content digests by absolute path, reused while size and mtime are unchanged. */
  files: Record<string, FileEntry>;
  /** Merged adapter path to the digest of what it was merged from. */
  merges: Record<string, string>;
  /** `<ollama url> <model>` to the digest of the /api/create request that built it. */
  models: Record<string, string>;
}

/**
 * What `herd build` has done before, so that unchanged inputs are not merged, hashed, uploaded or
 * created again. Keyed by content hashes; a lost or corrupt manifest only costs a rebuild.
 */
export class BuildManifest {
  private constructor(
    readonly path: string,
    private readonly data: ManifestData,
  ) {}

  /** Loads the manifest, or starts an empty one when it is missing or unreadable. */
  static async load(path: string): Promise<BuildManifest> {
    try {
      const data = JSON.parse(await readFile(path, "utf8")) as ManifestData;
      if (data.version === 1 && data.files && data.merges && data.models)
        return new BuildManifest(path, data);
    } catch {
      // missing or corrupt: start over
    }
    return new BuildManifest(path, { version: 1, files: {}, merges: {}, models: {} });
  }

  /** The sha256 of a file, from the cache while its size and mtime are unchanged. */
  async digest(path: string): Promise<string> {
    const info = await stat(path);
    const cached = this.data.files[path];
    if (cached && cached.size === info.size && cached.mtimeMs === info.mtimeMs) return cached.sha256;
    const sha256 = await sha256File(path);
    this.data.files[path] = { size: info.size, mtimeMs: info.mtimeMs, sha256 };
    return sha256;
  }

  mergeInputs(path: string): string | undefined {
    return this.data.merges[path];
  }

  setMergeInputs(path: string, inputs: string): void {
    this.data.merges[path] = inputs;
  }

  modelRequest(ollamaUrl: string, model: string): string | undefined {
    return this.data.models[`${ollamaUrl} ${model}`];
  }

  setModelRequest(ollamaUrl: string, model: string, request: string): void {
    this.data.models[`${ollamaUrl} ${model}`] = request;
  }

  /** Writes the manifest (atomically). */
  async save(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeAtomically(this.path, (temp) => writeFile(temp, `${JSON.stringify(this.data, null, 2)}\n`));
  }
}
