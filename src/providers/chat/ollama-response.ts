import { randomBytes } from "node:crypto";
import type {
  ChatChunk,
  ChatRequest,
  FinishReason,
  TokenLogprob,
  ToolDefinition,
  Usage,
} from "../../core/chat.js";
import { ProviderResponseError } from "../../core/errors.js";
import { allowedTools, isForcedToolChoice, parseForcedToolCall } from "../../core/forced-tool-call.js";
import { tokenUsage } from "../../core/usage.js";
import type { OllamaChatLine } from "./ollama-messages.js";

/**
 * Turns the lines of an /api/chat reply into Herd chunks: text (with log-probabilities when asked
 * for), one tool-call chunk per call, and a finish chunk on the `done` line. A forced tool choice
 * (see `toOllamaChatBody`) arrives as JSON text: it is held back and turned into a tool call at the
 * end. With `parallelToolCalls: false`, calls after the first are dropped.
 * Works for stream lines and for the single object of `stream: false` alike.
 */
export class OllamaReplyTranslator {
  private readonly forcedTools: ToolDefinition[] | undefined;
  private readonly maxCalls: number;
  private readonly logprobs: boolean;
  private heldText = "";
  private calls = 0;

  constructor(
    request: ChatRequest,
    private readonly url?: string,
  ) {
    const tools = allowedTools(request.tools, request.toolChoice);
    this.forcedTools = tools.length > 0 && isForcedToolChoice(request.toolChoice) ? tools : undefined;
    this.maxCalls = request.parallelToolCalls === false ? 1 : Number.POSITIVE_INFINITY;
    this.logprobs = request.params.logprobs === true;
  }

  /** The chunks for one line; the `done` line ends with the finish chunk. */
  translate(line: OllamaChatLine): ChatChunk[] {
    const out: ChatChunk[] = [];
    const message = line.message;
    if (message?.content) {
      if (this.forcedTools) this.heldText += message.content;
      else {
        const logprobs = this.logprobs ? toLogprobs(line.logprobs) : undefined;
        out.push(
          logprobs
            ? { type: "text", text: message.content, logprobs }
            : { type: "text", text: message.content },
        );
      }
    }
    for (const call of message?.tool_calls ?? []) {
      if (this.calls >= this.maxCalls) continue;
      out.push({
        type: "tool-call",
        index: this.calls++,
        id: call.id ?? `call_${randomBytes(4).toString("hex")}`,
        name: call.function?.name ?? "",
        argumentsDelta: JSON.stringify(call.function?.arguments ?? {}),
      });
    }
    if (line.done) {
      const length = line.done_reason === "length";
      if (this.forcedTools && this.calls === 0) out.push(this.forcedCall(length));
      const finishReason: FinishReason = length ? "length" : this.calls > 0 ? "tool_calls" : "stop";
      const usage = usageOfDoneLine(line);
      out.push(usage ? { type: "finish", finishReason, usage } : { type: "finish", finishReason });
    }
    return out;
  }

  /** The tool call the constrained answer describes (Ollama answered in `content`, as the format asked). */
  private forcedCall(truncated: boolean): ChatChunk {
    const parsed = parseForcedToolCall(this.heldText, this.forcedTools!, truncated);
    if (!parsed) {
      throw new ProviderResponseError(
        `Ollama did not follow the forced tool call format (tool_choice): it answered ${JSON.stringify(this.heldText.slice(0, 200))}. ` +
          "Ollama may be too old to enforce a JSON schema in `format` (needs v0.5 or later).",
        undefined,
        this.url,
      );
    }
    return {
      type: "tool-call",
      index: this.calls++,
      id: `call_${randomBytes(4).toString("hex")}`,
      name: parsed.name,
      argumentsDelta: parsed.arguments,
    };
  }
}

/** Ollama's per-line logprobs (`{token, logprob, top_logprobs}`) in Herd's shape. */
function toLogprobs(logprobs: OllamaChatLine["logprobs"]): TokenLogprob[] | undefined {
  if (!Array.isArray(logprobs) || logprobs.length === 0) return undefined;
  return logprobs.map((entry) => {
    const out: TokenLogprob = { token: entry.token, logprob: entry.logprob };
    if (entry.top_logprobs) {
      out.topLogprobs = entry.top_logprobs.map((t) => ({ token: t.token, logprob: t.logprob }));
    }
    return out;
  });
}

/**
 * The token counts of a `done` line. Ollama leaves out a count that is 0 (Go's `omitempty`): no
 * `eval_count` means 0 tokens generated. A prompt is never 0 tokens, so no `prompt_eval_count` means
 * Ollama did not count it (before v0.2 it reported none for a cached prompt): then there is no usage.
 */
function usageOfDoneLine(line: OllamaChatLine): Usage | undefined {
  if (line.prompt_eval_count === undefined) return undefined;
  return tokenUsage(line.prompt_eval_count, line.eval_count ?? 0);
}
