import { randomBytes } from "node:crypto";
import { rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** A sibling path in the same folder, so that the final rename stays on one file system. */
export function temporarySibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/**
 * Runs `write` against a temporary sibling of `path`, then renames it into place. On any error the
 * temporary file or folder is removed and `path` is left as it was: never a half-written adapter.
 * A folder that already exists at `path` is replaced only after the new one is complete.
 */
export async function writeAtomically<T>(path: string, write: (tempPath: string) => Promise<T>): Promise<T> {
  const temp = temporarySibling(path);
  try {
    const result = await write(temp);
    const existing = await stat(path).catch(() => undefined);
    if (existing?.isDirectory()) {
      const old = temporarySibling(path);
      await rename(path, old);
      try {
        await rename(temp, path);
      } catch (error) {
        await rename(old, path);
        throw error;
      }
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temp, path);
    }
    return result;
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}
