import { randomUUID } from "node:crypto";
import type { ChatChunk, FinishReason, TokenLogprob, Usage } from "../core/chat.js";
import type { HerdRoutingInfo } from "../core/routing-info.js";
import { sumUsage } from "../core/usage.js";

/** The fields every chunk and completion of one response shares. */
export interface CompletionIdentity {
  id: string;
  created: number;
  model: string;
}

/** A fresh identity: `chatcmpl-<32 hex>`, Unix seconds, the model name to report. */
export function newIdentity(model: string): CompletionIdentity {
  return {
    id: `chatcmpl-${randomUUID().replaceAll("-", "")}`,
    created: Math.floor(Date.now() / 1000),
    model,
  };
}

/** A tool call id for backends that send none (Ollama before v0.12.10). */
export function newToolCallId(): string {
  return `call_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
}

/** OpenAI `usage` from Herd's token counts. */
export function openAIUsage(usage: Usage) {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

/** How the answer is shaped, from the request. */
export interface AnswerShape {
  /** The request used the deprecated `functions`: answer with `function_call` and finish reason "function_call". */
  legacyFunctions?: boolean;
  /** The request asked for `logprobs`: choices carry `logprobs.content`. */
  logprobs?: boolean;
  /** `parallel_tool_calls: false` (or legacy functions): tool calls after the first are dropped. */
  singleToolCall?: boolean;
}

/** OpenAI's `logprobs.content` entries (token, logprob, UTF-8 bytes, top alternatives). */
export function openAILogprobs(logprobs: readonly TokenLogprob[]) {
  const bytes = (token: string) => [...Buffer.from(token, "utf8")];
  return logprobs.map((l) => ({
    token: l.token,
    logprob: l.logprob,
    bytes: bytes(l.token),
    top_logprobs: (l.topLogprobs ?? []).map((t) => ({
      token: t.token,
      logprob: t.logprob,
      bytes: bytes(t.token),
    })),
  }));
}

/** The finish reason OpenAI reports: tool calls win over "stop"; legacy requests say "function_call". */
function finishReasonOf(reason: FinishReason, hasCalls: boolean, shape: AnswerShape): string {
  if (!hasCalls || reason === "length") return reason;
  return shape.legacyFunctions ? "function_call" : "tool_calls";
}

type Delta = Record<string, unknown>;

/** Per-choice state of a ChunkEncoder. */
interface ChoiceState {
  toolCalls: Map<number, string>;
  finished: boolean;
  /** The backend's token counts for this choice, when it reported them. */
  usage?: Usage;
}

/**
 * Turns Herd chat chunks into OpenAI `chat.completion.chunk` objects: the first carries the role of
 * every choice and the `herd` routing object, then content deltas (with logprobs when asked for),
 * tool-call deltas (index, id, type and name first, then arguments; `function_call` deltas for
 * legacy requests), each choice's finish reason, and with `include_usage` a final chunk with
 * `choices: []` and the usage of all choices: `usage: null` when a backend reported no counts for
 * some choice (never zeros, never a sum that leaves a choice out), with the reason in `herd.warnings`.
 */
export class ChunkEncoder {
  readonly #choices: ChoiceState[];

  constructor(
    private readonly identity: CompletionIdentity,
    private readonly includeUsage: boolean,
    choices = 1,
    private readonly shape: AnswerShape = {},
  ) {
    this.#choices = Array.from({ length: choices }, () => ({ toolCalls: new Map(), finished: false }));
  }

  /** The first chunk: role and empty content for each choice, and the routing decision. */
  first(herd: HerdRoutingInfo): object {
    const choices = this.#choices.map((_, index) =>
      this.choice(index, { role: "assistant", content: "" }, null),
    );
    const chunk = this.envelope(choices);
    if (this.includeUsage) chunk.usage = null;
    return { ...chunk, herd };
  }

  /** The OpenAI chunks for one Herd chunk of choice `index` (none, one, or two for a tool call's first piece). */
  encode(chunk: ChatChunk, index = 0): object[] {
    const state = this.#choices[index]!;
    switch (chunk.type) {
      case "text": {
        if (chunk.text === "") return [];
        const logprobs =
          this.shape.logprobs && chunk.logprobs
            ? { content: openAILogprobs(chunk.logprobs), refusal: null }
            : null;
        return [this.chunk(index, { content: chunk.text }, null, logprobs)];
      }
      case "tool-call": {
        if (this.shape.singleToolCall && chunk.index > 0) return [];
        const out: object[] = [];
        let id = state.toolCalls.get(chunk.index);
        if (id === undefined) {
          id = chunk.id ?? newToolCallId();
          state.toolCalls.set(chunk.index, id);
          const name = chunk.name ?? "";
          out.push(
            this.chunk(
              index,
              this.shape.legacyFunctions
                ? { function_call: { name, arguments: "" } }
                : {
                    tool_calls: [
                      { index: chunk.index, id, type: "function", function: { name, arguments: "" } },
                    ],
                  },
              null,
            ),
          );
        }
        if (chunk.argumentsDelta !== "") {
          const args = chunk.argumentsDelta;
          out.push(
            this.chunk(
              index,
              this.shape.legacyFunctions
                ? { function_call: { arguments: args } }
                : { tool_calls: [{ index: chunk.index, function: { arguments: args } }] },
              null,
            ),
          );
        }
        return out;
      }
      case "finish": {
        if (state.finished) return [];
        state.finished = true;
        state.usage = chunk.usage;
        const reason = finishReasonOf(chunk.finishReason, state.toolCalls.size > 0, this.shape);
        return [this.chunk(index, {}, reason)];
      }
    }
  }

  /** True once every choice has sent its finish chunk: the answer is complete. */
  get finished(): boolean {
    return this.#choices.every((c) => c.finished);
  }

  /**
   * The usage chunk (`choices: []`) to send before `[DONE]`, when the client asked for it: the sum
   * over the choices, or `usage: null` when a choice has no counts. `warnings` made after the first
   * chunk (such as the missing usage's) go with it as `herd.warnings`.
   */
  usageChunk(warnings: readonly string[] = []): object | undefined {
    if (!this.includeUsage) return undefined;
    const usage = sumUsage(this.#choices.map((c) => c.usage));
    const chunk = { ...this.envelope([]), usage: usage ? openAIUsage(usage) : null };
    return warnings.length > 0 ? { ...chunk, herd: { warnings } } : chunk;
  }

  private choice(index: number, delta: Delta, finishReason: string | null, logprobs: object | null = null) {
    return { index, delta, logprobs, finish_reason: finishReason };
  }

  private chunk(
    index: number,
    delta: Delta,
    finishReason: string | null,
    logprobs: object | null = null,
  ): object {
    const chunk = this.envelope([this.choice(index, delta, finishReason, logprobs)]);
    if (this.includeUsage) chunk.usage = null;
    return chunk;
  }

  private envelope(choices: object[]): Record<string, unknown> {
    const { id, created, model } = this.identity;
    return { id, object: "chat.completion.chunk", created, model, choices };
  }
}

/** Collects one choice's whole answer from Herd chunks (see `buildCompletion`). */
export class CompletionBuilder {
  #text = "";
  readonly #calls = new Map<number, { id: string; name: string; arguments: string }>();
  readonly #logprobs: TokenLogprob[] = [];
  #finishReason: FinishReason = "stop";
  usage: Usage | undefined;
  /** True once the choice's finish chunk was added: its answer is complete. */
  finished = false;

  add(chunk: ChatChunk): void {
    switch (chunk.type) {
      case "text":
        this.#text += chunk.text;
        if (chunk.logprobs) this.#logprobs.push(...chunk.logprobs);
        return;
      case "tool-call": {
        let call = this.#calls.get(chunk.index);
        if (call === undefined) {
          call = { id: chunk.id ?? newToolCallId(), name: chunk.name ?? "", arguments: "" };
          this.#calls.set(chunk.index, call);
        }
        if (chunk.name && !call.name) call.name = chunk.name;
        call.arguments += chunk.argumentsDelta;
        return;
      }
      case "finish":
        this.#finishReason = chunk.finishReason;
        this.usage = chunk.usage;
        this.finished = true;
        return;
    }
  }

  /** The OpenAI choice object at `index`. */
  choice(index: number, shape: AnswerShape = {}): object {
    let calls = [...this.#calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
    if (shape.singleToolCall || shape.legacyFunctions) calls = calls.slice(0, 1);
    const message: Record<string, unknown> = {
      role: "assistant",
      content: calls.length > 0 && this.#text === "" ? null : this.#text,
      refusal: null,
      annotations: [],
    };
    const args = (c: { arguments: string }) => (c.arguments === "" ? "{}" : c.arguments);
    if (calls.length > 0 && shape.legacyFunctions) {
      message.function_call = { name: calls[0]!.name, arguments: args(calls[0]!) };
    } else if (calls.length > 0) {
      message.tool_calls = calls.map((c) => ({
        id: c.id,
        type: "function",
        function: { name: c.name, arguments: args(c) },
      }));
    }
    return {
      index,
      message,
      logprobs: shape.logprobs ? { content: openAILogprobs(this.#logprobs), refusal: null } : null,
      finish_reason: finishReasonOf(this.#finishReason, calls.length > 0, shape),
    };
  }

  /** The `chat.completion` object of this one choice, with the `herd` routing object. */
  build(
    identity: CompletionIdentity,
    herd: HerdRoutingInfo & { durationMs?: number },
    shape: AnswerShape = {},
  ) {
    return buildCompletion(identity, herd, [this], shape);
  }
}

/**
 * The `chat.completion` object: one choice per builder, and the `herd` routing object. `usage` is the
 * sum over the choices, left out when a backend reported no counts for some choice (the pipeline's
 * warning then says which provider).
 */
export function buildCompletion(
  identity: CompletionIdentity,
  herd: HerdRoutingInfo & { durationMs?: number },
  builders: readonly CompletionBuilder[],
  shape: AnswerShape = {},
): object {
  const body: Record<string, unknown> = {
    id: identity.id,
    object: "chat.completion",
    created: identity.created,
    model: identity.model,
    choices: builders.map((b, i) => b.choice(i, shape)),
  };
  const usage = sumUsage(builders.map((b) => b.usage));
  if (usage) body.usage = openAIUsage(usage);
  body.herd = herd;
  return body;
}
