import type { ExpertSetUpdate } from "./chat.js";
import type { Expert, ExpertSet } from "./expert.js";

/** A router whose experts can change at run time (the built-in `Router` is one). */
export interface ExpertChangeTarget {
  readonly experts: ExpertSet;
  addExpert(expert: Expert): Promise<void>;
  removeExpert(name: string): Promise<void>;
  setExperts?(experts: ExpertSet): void;
}

/** What {@link applyExpertSet} changed. */
export interface ExpertSetChange {
  added: string[];
  updated: string[];
  removed: string[];
  /** The base model, when it changed. */
  baseModel?: string;
}

function sameExpert(a: Expert, b: Expert): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The experts of `next` that are new or changed since `current`: those a backend must be checked for.
 * `key` says which change matters (e.g. only the served model name). @default any field
 */
export function changedExperts(
  { current, next }: ExpertSetUpdate,
  key: (expert: Expert) => string = (e) => JSON.stringify(e),
): Expert[] {
  const now = new Map(current.experts.map((e) => [e.name, key(e)]));
  return next.experts.filter((e) => now.get(e.name) !== key(e));
}

/**
 * The warning of a reload whose backend could not be asked (down, or too slow): the reload goes on,
 * as start-up does, and says which experts are unchecked.
 */
export function uncheckedExpertsWarning(service: string, experts: readonly string[], error: unknown): string {
  const why = (error as Error).message.replace(/\.?\s*$/, ".");
  return `Could not check that ${service} serves ${experts.map((e) => `"${e}"`).join(", ")}: ${why} Requests routed to them fail until it does; reload again once it answers.`;
}

/**
 * Brings a running router to a new expert set (e.g. experts.json after `herd experts add`):
 * experts that are new or changed are added (each validated and its centroid built before it takes
 * effect), experts that are gone are removed, and the base model follows. Unchanged experts are untouched.
 */
export async function applyExpertSet(target: ExpertChangeTarget, next: ExpertSet): Promise<ExpertSetChange> {
  const current = new Map(target.experts.experts.map((e) => [e.name, e]));
  const change: ExpertSetChange = { added: [], updated: [], removed: [] };
  for (const expert of next.experts) {
    const old = current.get(expert.name);
    if (old && sameExpert(old, expert)) continue;
    await target.addExpert(expert);
    (old ? change.updated : change.added).push(expert.name);
  }
  const wanted = new Set(next.experts.map((e) => e.name));
  for (const name of current.keys()) {
    if (wanted.has(name)) continue;
    await target.removeExpert(name);
    change.removed.push(name);
  }
  if (next.baseModel !== target.experts.baseModel && target.setExperts) {
    target.setExperts({ ...target.experts, baseModel: next.baseModel });
    change.baseModel = next.baseModel;
  }
  return change;
}
