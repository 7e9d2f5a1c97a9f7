/** What `GET /v1/models` says a vLLM server serves. */
export interface VllmServedModels {
  /** The base model's id (the card whose `parent` is null). */
  base: string | undefined;
  /** The LoRA modules' names (cards whose `parent` is the base). */
  adapters: string[];
}

/** The most model cards read from one reply. */
const MAX_CARDS = 10_000;

/**
 * Reads vLLM's model list: `{"object":"list","data":[{id, parent: null, ...}, {id, parent: "<base>", ...}]}`.
 * Returns undefined when the reply is not that shape.
 */
export function parseVllmModels(data: unknown): VllmServedModels | undefined {
  if (typeof data !== "object" || data === null || !Array.isArray((data as { data?: unknown }).data))
    return undefined;
  const cards = ((data as { data: unknown[] }).data ?? []).slice(0, MAX_CARDS);
  let base: string | undefined;
  const adapters: string[] = [];
  for (const card of cards) {
    if (typeof card !== "object" || card === null) continue;
    const id = Object.hasOwn(card, "id") ? (card as { id: unknown }).id : undefined;
    const parent = Object.hasOwn(card, "parent") ? (card as { parent: unknown }).parent : undefined;
    if (typeof id !== "string") continue;
    if (typeof parent === "string" && parent !== "") adapters.push(id);
    else base ??= id;
  }
  return { base, adapters };
}
