import { randomUUID } from "node:crypto";
import type { ChatChunk, FinishReason, Usage } from "../core/chat.js";
import type { HerdRoutingInfo } from "../core/routing-info.js";

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

type Delta = Record<string, unknown>;

/**
 * Turns Herd chat chunks into OpenAI `chat.completion.chunk` objects: the first carries the role and
 * the `herd` routing object, then content deltas, tool-call deltas (index, id, type and name first,
 * then arguments), the finish reason, and with `include_usage` a final chunk with `choices: []`.
 */
export class ChunkEncoder {
  /** Tool call index -> id, for the calls seen so far. */
  readonly #toolCalls = new Map<number, string>();
  #usage: Usage | undefined;
  #finished = false;

  constructor(
    private readonly identity: CompletionIdentity,
    private readonly includeUsage: boolean,
  ) {}

  /** The first chunk: role, empty content, and the routing decision. */
  first(herd: HerdRoutingInfo): object {
    return { ...this.chunk({ role: "assistant", content: "" }, null), herd };
  }

  /** The OpenAI chunks for one Herd chunk (none, one, or two for a tool call's first piece). */
  encode(chunk: ChatChunk): object[] {
    switch (chunk.type) {
      case "text":
        return chunk.text === "" ? [] : [this.chunk({ content: chunk.text }, null)];
      case "tool-call": {
        const out: object[] = [];
        let id = this.#toolCalls.get(chunk.index);
        if (id === undefined) {
          id = chunk.id ?? newToolCallId();
          this.#toolCalls.set(chunk.index, id);
          const head = {
            index: chunk.index,
            id,
            type: "function",
            function: { name: chunk.name ?? "", arguments: "" },
          };
          out.push(this.chunk({ tool_calls: [head] }, null));
        }
        if (chunk.argumentsDelta !== "") {
          const piece = { index: chunk.index, function: { arguments: chunk.argumentsDelta } };
          out.push(this.chunk({ tool_calls: [piece] }, null));
        }
        return out;
      }
      case "finish": {
        if (this.#finished) return [];
        this.#finished = true;
        this.#usage = chunk.usage;
        const reason: FinishReason = this.#toolCalls.size > 0 ? "tool_calls" : chunk.finishReason;
        return [this.chunk({}, reason)];
      }
    }
  }

  /** The usage chunk (`choices: []`) to send before `[DONE]`, when the client asked for it. */
  usageChunk(): object | undefined {
    if (!this.includeUsage) return undefined;
    const { id, created, model } = this.identity;
    const usage = openAIUsage(this.#usage ?? { inputTokens: 0, outputTokens: 0 });
    return { id, object: "chat.completion.chunk", created, model, choices: [], usage };
  }

  private chunk(delta: Delta, finishReason: FinishReason | null): object {
    const { id, created, model } = this.identity;
    const chunk: Record<string, unknown> = {
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    };
    if (this.includeUsage) chunk.usage = null;
    return chunk;
  }
}

/** Collects a whole answer from Herd chunks and builds the non-streaming `chat.completion`. */
export class CompletionBuilder {
  #text = "";
  readonly #calls = new Map<number, { id: string; name: string; arguments: string }>();
  #finishReason: FinishReason = "stop";
  #usage: Usage | undefined;

  add(chunk: ChatChunk): void {
    switch (chunk.type) {
      case "text":
        this.#text += chunk.text;
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
        this.#usage = chunk.usage;
        return;
    }
  }

  /** The `chat.completion` object, with the `herd` routing object. */
  build(identity: CompletionIdentity, herd: HerdRoutingInfo & { durationMs?: number }): object {
    const calls = [...this.#calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
    const message: Record<string, unknown> = {
      role: "assistant",
      content: calls.length > 0 && this.#text === "" ? null : this.#text,
      refusal: null,
      annotations: [],
    };
    if (calls.length > 0) {
      message.tool_calls = calls.map((c) => ({
        id: c.id,
        type: "function",
        function: { name: c.name, arguments: c.arguments === "" ? "{}" : c.arguments },
      }));
    }
    const body: Record<string, unknown> = {
      id: identity.id,
      object: "chat.completion",
      created: identity.created,
      model: identity.model,
      choices: [
        {
          index: 0,
          message,
          logprobs: null,
          finish_reason: calls.length > 0 ? "tool_calls" : this.#finishReason,
        },
      ],
    };
    if (this.#usage) body.usage = openAIUsage(this.#usage);
    body.herd = herd;
    return body;
  }
}
