import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Temporary files and folders written next to their final path and renamed into place. Their
 * names carry the writer's process id, so that a later run can tell the leftovers of a process that
 * died (killed, power cut) from the work of one still running, and remove them.
 */

/** `.<name>.tmp-<pid>-<8 hex>`: the temporary sibling of `path` (same folder, so rename stays on one file system). */
export function temporarySibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** The name of a temporary sibling (`temporarySibling`) and the pid that wrote it. */
const TEMP_NAME = /^\..+\.tmp-(\d+)-[0-9a-f]{8}$/;

/**
 * Older Herd versions' temporary names, after the target's file name: `<name>.<pid>.<8 hex>.tmp`
 * (GGUF writer before 0.2) and `<name>.tmp-<pid>-<ms>` / `<name>.old-<pid>-<ms>` (centroid store
 * before 0.2). Common enough shapes that other programs' files may have them: matched only after
 * the name of the file being written, never folder-wide.
 */
const LEGACY_SUFFIXES = [/^\.(\d+)\.[0-9a-f]{8}\.tmp$/, /^\.(?:tmp|old)-(\d+)-\d{10,}$/];

/**
 * The pid in a temporary name, or undefined when the name is not one of Herd's temporaries. With
 * `target` (the file name being written), older Herd versions' names of that target count too.
 */
export function temporaryOwner(name: string, target?: string): number | undefined {
  const pid = TEMP_NAME.exec(name)?.[1];
  if (pid !== undefined) return Number(pid);
  if (target === undefined || target === "" || !name.startsWith(target)) return undefined;
  const rest = name.slice(target.length);
  for (const pattern of LEGACY_SUFFIXES) {
    const legacy = pattern.exec(rest)?.[1];
    if (legacy !== undefined) return Number(legacy);
  }
  return undefined;
}

/** True when a process with this id runs on this machine (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Before writing `path`: removes Herd's temporary files and folders next to it whose writing
 * process no longer runs (leftovers of an interrupted merge, build or centroid save): any
 * `temporarySibling` name in its folder, and older Herd versions' names of `path` itself. Returns
 * the paths removed. Errors (an unreadable folder, a file removed meanwhile) are ignored: this is
 * housekeeping.
 */
export async function removeStaleTemporariesFor(path: string): Promise<string[]> {
  const folder = dirname(path);
  const target = basename(path);
  const names = await readdir(folder).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const pid = temporaryOwner(name, target);
    if (pid === undefined || pid === process.pid || processAlive(pid)) continue;
    const stale = join(folder, name);
    try {
      await rm(stale, { recursive: true, force: true });
      removed.push(stale);
    } catch {
      // another run removed it, or it is not ours to remove
    }
  }
  return removed;
}

const live = new Set<string>();
let handlersInstalled = false;

/**
 * Registers a temporary path to be removed if the process is interrupted (SIGINT, SIGTERM) or
 * exits before it is renamed. Returns the function that unregisters it. When Herd's handler is the
 * only one for the signal, it removes the temporaries and ends the process the way the signal
 * would have; when the application has its own handler (a server draining requests), it leaves
 * the decision to that handler, and the writer's own error handling cleans up.
 */
export function trackTemporary(path: string): () => void {
  installHandlers();
  live.add(path);
  return () => {
    live.delete(path);
  };
}

function removeLive(): void {
  for (const path of live) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // nothing more can be done while exiting
    }
  }
  live.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", removeLive);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return; // the application decides
      removeLive();
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
