import type { HerdChatModelSettings } from "./chat-model.js";
import { InvalidInputError } from "./errors.js";

function check(ok: boolean, field: string, message: string): void {
  if (!ok) throw new InvalidInputError(`${field} ${message}`, field);
}

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isInt = (v: unknown): v is number => Number.isInteger(v);

/** Validates HerdChatModel settings and call options; throws `InvalidInputError` naming the field. */
export function validateCallOptions(s: HerdChatModelSettings): void {
  const has = (v: unknown) => v !== undefined;
  if (has(s.topExperts))
    check(
      isInt(s.topExperts) && s.topExperts! >= 1,
      "topExperts",
      `must be an integer >= 1, got ${s.topExperts}.`,
    );
  if (has(s.expert))
    check(typeof s.expert === "string" && s.expert !== "", "expert", "must be an expert name.");
  if (has(s.model)) check(typeof s.model === "string" && s.model !== "", "model", "must be a model name.");
  if (has(s.temperature))
    check(
      isNumber(s.temperature) && s.temperature >= 0,
      "temperature",
      `must be a number >= 0, got ${s.temperature}.`,
    );
  if (has(s.topK)) check(isInt(s.topK) && s.topK! >= 0, "topK", `must be an integer >= 0, got ${s.topK}.`);
  if (has(s.topP))
    check(isNumber(s.topP) && s.topP > 0 && s.topP <= 1, "topP", `must be in (0, 1], got ${s.topP}.`);
  if (has(s.repetitionPenalty))
    check(
      isNumber(s.repetitionPenalty) && s.repetitionPenalty > 0,
      "repetitionPenalty",
      `must be a number > 0, got ${s.repetitionPenalty}.`,
    );
  for (const key of ["presencePenalty", "frequencyPenalty"] as const) {
    const v = s[key];
    if (has(v)) check(isNumber(v) && v >= -2 && v <= 2, key, `must be a number from -2 to 2, got ${v}.`);
  }
  if (has(s.maxTokens))
    check(
      isInt(s.maxTokens) && s.maxTokens! >= 1,
      "maxTokens",
      `must be an integer >= 1, got ${s.maxTokens}.`,
    );
  if (has(s.seed)) check(isInt(s.seed), "seed", `must be an integer, got ${s.seed}.`);
  if (has(s.stop))
    check(
      Array.isArray(s.stop) && s.stop.every((x) => typeof x === "string"),
      "stop",
      "must be an array of strings.",
    );
  if (has(s.conversationId))
    check(typeof s.conversationId === "string", "conversationId", "must be a string.");
}
