import type { ChatChunk, FinishReason, Usage } from "../../../core/chat.js";

/** One event of LoRAX's POST /generate_stream. */
interface GenerateEvent {
  token?: { id?: number; text?: string; special?: boolean };
  generated_text?: string | null;
  details?: {
    finish_reason?: string;
    prompt_tokens?: number;
    generated_tokens?: number;
  } | null;
}

/** LoRAX/TGI finish reasons (`eos_token`, `stop_sequence`, `length`) as Herd's. */
function finishOf(reason: string | undefined): FinishReason {
  return reason === "length" ? "length" : "stop";
}

/**
 * Turns /generate_stream events into chat chunks: one text chunk per non-special token, then one
 * `finish` when the last event (with `generated_text` and `details`) arrives. LoRAX returns the stop
 * sequence that ended generation as part of the text; OpenAI clients expect it left out, so with
 * `stop` given the last few characters are held back until the stream ends and the matched stop is
 * cut. Returns when the finish is yielded; throws when the stream ends before it.
 */
export async function* chunksFromGenerateStream(
  events: AsyncIterable<unknown>,
  stop: readonly string[],
  closedEarly: () => Error,
): AsyncGenerator<ChatChunk> {
  const hold = Math.max(0, ...stop.map((s) => s.length));
  let pending = "";
  for await (const raw of events) {
    const event = raw as GenerateEvent;
    const token = event.token;
    if (token?.text && !token.special) pending += token.text;
    const last = event.generated_text !== null && event.generated_text !== undefined;
    if (!last) {
      if (pending.length > hold) {
        yield { type: "text", text: pending.slice(0, pending.length - hold) };
        pending = pending.slice(pending.length - hold);
      }
      continue;
    }
    const details = event.details ?? undefined;
    if (details?.finish_reason === "stop_sequence") {
      const matched = stop.find((s) => s !== "" && pending.endsWith(s));
      if (matched) pending = pending.slice(0, pending.length - matched.length);
    }
    if (pending) yield { type: "text", text: pending };
    const usage: Usage | undefined =
      details && (details.prompt_tokens !== undefined || details.generated_tokens !== undefined)
        ? { inputTokens: details.prompt_tokens ?? 0, outputTokens: details.generated_tokens ?? 0 }
        : undefined;
    const finishReason = finishOf(details?.finish_reason);
    yield usage ? { type: "finish", finishReason, usage } : { type: "finish", finishReason };
    return;
  }
  throw closedEarly();
}
