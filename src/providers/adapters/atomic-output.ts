import { rename, rm, stat } from "node:fs/promises";
import { removeStaleTemporariesFor, temporarySibling, trackTemporary } from "../../core/temp-files.js";

/**
 * Runs `write` against a temporary sibling of `path`, then renames it into place. On any error the
 * temporary file or folder is removed and `path` is left as it was: never a half-written adapter.
 * A folder that already exists at `path` is replaced only after the new one is complete. An
 * interrupted run (SIGINT, SIGTERM) removes its temporary on the way out, and leftovers of runs
 * that were killed outright are removed by the next write into the same folder.
 */
export async function writeAtomically<T>(path: string, write: (tempPath: string) => Promise<T>): Promise<T> {
  await removeStaleTemporariesFor(path);
  const temp = temporarySibling(path);
  const untrack = trackTemporary(temp);
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
      // Only now is the old folder garbage (an interruption before would have lost both copies).
      const untrackOld = trackTemporary(old);
      await rm(old, { recursive: true, force: true });
      untrackOld();
    } else {
      await rename(temp, path);
    }
    return result;
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  } finally {
    untrack();
  }
}
