import { UnknownModelError } from "./http-errors.js";
import type { ServedHerd } from "./served-herd.js";

/** The model name that routes each request. */
export const ROUTED_MODEL = "herd";
/** `herd:<expert>` forces an expert. */
export const EXPERT_PREFIX = "herd:";

/** What a requested model name asks for. */
export type ModelChoice = { kind: "route" } | { kind: "base" } | { kind: "expert"; expert: string };

/** The model names the facade serves: `herd`, `herd:<expert>` per expert, and the base model. */
export function servedModels(herd: ServedHerd, onlyBase: boolean): string[] {
  const names = [ROUTED_MODEL];
  if (!onlyBase) for (const expert of herd.experts) names.push(`${EXPERT_PREFIX}${expert.name}`);
  if (herd.baseModel !== ROUTED_MODEL) names.push(herd.baseModel);
  return names;
}

/**
 * Reads a requested model name: `herd` routes, `herd:<expert>` or an expert's own model name
 * (e.g. the Ollama tag `herd-code`) forces that expert, the base model name skips routing. With
 * `onlyBase` (`herd serve --only-base`) `herd` also means the base model and experts are not served.
 * Any other name throws `UnknownModelError` (404) listing the served names.
 */
export function resolveModel(model: string, herd: ServedHerd, onlyBase: boolean): ModelChoice {
  if (model === herd.baseModel) return { kind: "base" };
  if (model === ROUTED_MODEL) return onlyBase ? { kind: "base" } : { kind: "route" };
  if (!onlyBase) {
    const name = model.startsWith(EXPERT_PREFIX) ? model.slice(EXPERT_PREFIX.length) : undefined;
    const expert = herd.experts.find((e) => (name === undefined ? e.model === model : e.name === name));
    if (expert) return { kind: "expert", expert: expert.name };
  }
  throw new UnknownModelError(model, servedModels(herd, onlyBase));
}
