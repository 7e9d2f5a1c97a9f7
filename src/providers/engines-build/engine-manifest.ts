import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeAtomically } from "../adapters/atomic-output.js";
import { sha256File, sha256Json } from "../ollama-build/build-manifest.js";

interface FileEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** What the build recorded about one adapter it wrote. */
export interface OutputRecord {
  /** The digest of what it was made from (inputs, weights, operation, encoding). */
  recipe: string;
  /** The digest of the adapter as written, to notice when it was changed or removed since. */
  digest: string;
  /** Its largest rank. */
  rank: number;
}

interface ManifestData {
  version: 1;
  /** Content digests by absolute path, reused while size and mtime are unchanged. */
  files: Record<string, FileEntry>;
  /** What was written, by file or folder name inside the adapters folder (so a copied build folder keeps working). */
  outputs: Record<string, OutputRecord>;
}

/**
 * The content hashes behind `herd build --engine`'s idempotence: an adapter is written again only
 * when what it is made from changed, or the written copy changed. A lost or corrupt manifest only
 * costs a rebuild.
 */
export class EngineManifest {
  private dirty = false;

  private constructor(
    readonly path: string,
    private readonly data: ManifestData,
  ) {}

  /** Loads the manifest, or starts an empty one when it is missing or unreadable. */
  static async load(path: string): Promise<EngineManifest> {
    try {
      const data = JSON.parse(await readFile(path, "utf8")) as ManifestData;
      if (data.version === 1 && data.files && data.outputs) return new EngineManifest(path, data);
    } catch {
      // missing or corrupt: start over
    }
    return new EngineManifest(path, { version: 1, files: {}, outputs: {} });
  }

  /** The sha256 of a file, from the cache while its size and mtime are unchanged. */
  async fileDigest(path: string): Promise<string> {
    const info = await stat(path);
    const cached = this.data.files[path];
    if (cached && cached.size === info.size && cached.mtimeMs === info.mtimeMs) return cached.sha256;
    const sha256 = await sha256File(path);
    this.data.files[path] = { size: info.size, mtimeMs: info.mtimeMs, sha256 };
    this.dirty = true;
    return sha256;
  }

  /** The digest of an adapter: a GGUF file, or every file of a PEFT folder by name. */
  async adapterDigest(path: string): Promise<string> {
    if (!(await stat(path)).isDirectory()) return this.fileDigest(path);
    const names = (await readdir(path, { withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
    return sha256Json(await Promise.all(names.map(async (n) => [n, await this.fileDigest(join(path, n))])));
  }

  /** The record of the adapter written as `name` in the adapters folder, if any. */
  output(name: string): OutputRecord | undefined {
    return Object.hasOwn(this.data.outputs, name) ? this.data.outputs[name] : undefined;
  }

  /** Records the adapter written as `name`. */
  setOutput(name: string, record: OutputRecord): void {
    this.data.outputs[name] = record;
    this.dirty = true;
  }

  /** Forgets the adapter `name` (and the cached digests of its files at `path`) once it is removed. */
  forget(name: string, path: string): void {
    delete this.data.outputs[name];
    for (const file of Object.keys(this.data.files)) {
      if (file === path || file.startsWith(`${path}/`) || file.startsWith(`${path}\\`))
        delete this.data.files[file];
    }
    this.dirty = true;
  }

  /** The name of every adapter the manifest has a record of. */
  outputs(): string[] {
    return Object.keys(this.data.outputs);
  }

  /** Writes the manifest (atomically) when something changed. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    await writeAtomically(this.path, (temp) => writeFile(temp, `${JSON.stringify(this.data, null, 2)}\n`));
    this.dirty = false;
  }
}
