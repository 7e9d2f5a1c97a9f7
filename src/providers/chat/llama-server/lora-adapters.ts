import { basename, isAbsolute, resolve } from "node:path";
import { expertModelName } from "../../../core/blend-resolver.js";
import type { ExpertSet } from "../../../core/expert.js";

/** One entry of llama-server's GET /lora-adapters. */
export interface LoadedLora {
  id: number;
  path: string;
}

/** An expert and the file names its GGUF adapter may be loaded under. */
export interface ExpertAdapterFile {
  expert: string;
  /** The adapter file as experts.json names it (absolute). */
  file: string;
  /** Other file names it may have been built as, e.g. `herd-code.gguf` from `herd build --engine llama-server`. */
  aliases?: string[];
}

/**
 * Each expert's GGUF adapter file (experts.json `adapter`, relative to the experts folder) and the
 * names `herd build --engine llama-server` gives it (`<model>.gguf`, `herd-<expert>.gguf`, `<expert>.gguf`).
 */
export function expertAdapterFiles(experts: ExpertSet, expertsDir: string): ExpertAdapterFile[] {
  return experts.experts.map((e) => ({
    expert: e.name,
    file: isAbsolute(e.adapter) ? e.adapter : resolve(expertsDir, e.adapter),
    aliases: [...new Set([`${e.model}.gguf`, `${expertModelName(e.name)}.gguf`, `${e.name}.gguf`])],
  }));
}

/** The most adapters read from one reply. */
const MAX_ADAPTERS = 4096;

/**
 * Reads GET /lora-adapters: `[{"id":0,"path":"a.gguf","scale":0.0}, ...]` (recent builds add
 * `task_name`, `prompt_prefix`, ...). Returns undefined when the reply is not an array.
 */
export function parseLoraAdapters(data: unknown): LoadedLora[] | undefined {
  if (!Array.isArray(data)) return undefined;
  const out: LoadedLora[] = [];
  for (const entry of data.slice(0, MAX_ADAPTERS)) {
    if (typeof entry !== "object" || entry === null) continue;
    const id = Object.hasOwn(entry, "id") ? (entry as { id: unknown }).id : undefined;
    const path = Object.hasOwn(entry, "path") ? (entry as { path: unknown }).path : undefined;
    if (typeof id === "number" && Number.isInteger(id) && id >= 0 && typeof path === "string")
      out.push({ id, path });
  }
  return out;
}

/**
 * Matches each expert to the id of its loaded adapter: the same path, else the same file name (the
 * server may have been started with relative paths or from another folder), else an alias.
 * Returns the ids found and the experts that are not loaded.
 */
export function matchAdapters(
  loaded: readonly LoadedLora[],
  experts: readonly ExpertAdapterFile[],
): { ids: Map<string, number>; missing: ExpertAdapterFile[] } {
  const ids = new Map<string, number>();
  const missing: ExpertAdapterFile[] = [];
  for (const expert of experts) {
    const names = new Set([basename(expert.file), ...(expert.aliases ?? [])]);
    const hit =
      loaded.find((l) => l.path === expert.file) ??
      loaded.find((l) => basename(l.path.replaceAll("\\", "/")) === basename(expert.file)) ??
      loaded.find((l) => names.has(basename(l.path.replaceAll("\\", "/"))));
    if (hit) ids.set(expert.expert, hit.id);
    else missing.push(expert);
  }
  return { ids, missing };
}
