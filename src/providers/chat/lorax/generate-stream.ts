import type { ChatChunk, FinishReason, TokenLogprob } from "../../../core/chat.js";
import { tokenUsage } from "../../../core/usage.js";

/** One event of LoRAX's POST /generate_stream. */
interface GenerateEvent {
  token?: {
    id?: number;
    text?: string;
    logprob?: number | null;
    special?: boolean;
    /** With `return_k_alternatives`: the k most likely tokens at this position. */
    alternative_tokens?: { id?: number; text?: string; logprob?: number | null }[] | null;
  };
  generated_text?: string | null;
  details?: {
    finish_reason?: string;
    prompt_tokens?: unknown;
    generated_tokens?: unknown;
  } | null;
}

/** A token held back until it is known not to be part of a stop sequence. */
interface HeldToken {
  text: string;
  logprob?: TokenLogprob;
}

/** LoRAX/TGI finish reasons (`eos_token`, `stop_sequence`, `length`) as Herd's. */
function finishOf(reason: string | undefined): FinishReason {
  return reason === "length" ? "length" : "stop";
}

/** A token event's log-probability with at most `top` alternatives (none when LoRAX sent no number). */
function logprobOf(token: NonNullable<GenerateEvent["token"]>, top: number): TokenLogprob | undefined {
  if (typeof token.logprob !== "number") return undefined;
  const out: TokenLogprob = { token: token.text ?? "", logprob: token.logprob };
  if (top > 0) {
    out.topLogprobs = (token.alternative_tokens ?? [])
      .filter((a) => typeof a?.text === "string" && typeof a.logprob === "number")
      .slice(0, top)
      .map((a) => ({ token: a.text as string, logprob: a.logprob as number }));
  }
  return out;
}

function textChunk(tokens: readonly HeldToken[]): ChatChunk {
  const text = tokens.map((t) => t.text).join("");
  const logprobs = tokens.flatMap((t) => (t.logprob ? [t.logprob] : []));
  return logprobs.length > 0 ? { type: "text", text, logprobs } : { type: "text", text };
}

/**
 * Turns /generate_stream events into chat chunks: one text chunk per non-special token, then one
 * `finish` when the last event (with `generated_text` and `details`) arrives. LoRAX returns the stop
 * sequence that ended generation as part of the text; OpenAI clients expect it left out, so with
 * `stop` given the last tokens are held back until the stream ends and the matched stop is cut.
 * With `logprobs`, each text chunk carries its tokens' log-probabilities (and up to `topLogprobs`
 * alternatives from `alternative_tokens`). Returns when the finish is yielded; throws when the
 * stream ends before it.
 */
export async function* chunksFromGenerateStream(
  events: AsyncIterable<unknown>,
  stop: readonly string[],
  closedEarly: () => Error,
  logprobs?: { topLogprobs: number },
): AsyncGenerator<ChatChunk> {
  const hold = Math.max(0, ...stop.map((s) => s.length));
  const held: HeldToken[] = [];
  let heldChars = 0;
  for await (const raw of events) {
    const event = raw as GenerateEvent;
    const token = event.token;
    if (token?.text && !token.special) {
      held.push({ text: token.text, logprob: logprobs ? logprobOf(token, logprobs.topLogprobs) : undefined });
      heldChars += token.text.length;
    }
    const last = event.generated_text !== null && event.generated_text !== undefined;
    if (!last) {
      // A token is safe once `hold` characters follow it: a stop sequence could only be in those.
      const safe: HeldToken[] = [];
      while (held.length > 0 && heldChars - held[0]!.text.length >= hold) {
        const next = held.shift()!;
        heldChars -= next.text.length;
        safe.push(next);
      }
      if (safe.length > 0) yield textChunk(safe);
      continue;
    }
    const details = event.details ?? undefined;
    if (details?.finish_reason === "stop_sequence") {
      const text = held.map((t) => t.text).join("");
      const matched = stop.find((s) => s !== "" && text.endsWith(s));
      let cut = matched?.length ?? 0;
      while (cut > 0 && held.length > 0) {
        const tail = held.at(-1)!;
        if (tail.text.length <= cut) {
          cut -= tail.text.length;
          held.pop();
        } else {
          tail.text = tail.text.slice(0, tail.text.length - cut);
          if (tail.logprob) tail.logprob = { ...tail.logprob, token: tail.text };
          cut = 0;
        }
      }
    }
    if (held.some((t) => t.text !== "")) yield textChunk(held);
    const usage = tokenUsage(details?.prompt_tokens, details?.generated_tokens);
    const finishReason = finishOf(details?.finish_reason);
    yield usage ? { type: "finish", finishReason, usage } : { type: "finish", finishReason };
    return;
  }
  throw closedEarly();
}
