import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError } from "./usage-error.js";

/**
 * The experts folder a command may write to: `--experts-dir`, else ./experts when it holds an
 * experts.json. Never the experts bundled with the package (an upgrade would lose the edits).
 * @throws UsageError saying to pass --experts-dir
 */
export function writableExpertsDir(flag: string | undefined, command: string): string {
  if (flag) return resolve(flag);
  const local = resolve("experts");
  if (existsSync(resolve(local, "experts.json"))) return local;
  throw new UsageError(
    `${command} edits an experts folder and there is no ./experts/experts.json: pass --experts-dir DIR ` +
      "(copy Herd's bundled experts folder there first to start from the default experts).",
  );
}
