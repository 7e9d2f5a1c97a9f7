import { randomBytes } from "node:crypto";
import type { ChatChunk } from "../../core/chat.js";
import { ProviderResponseError } from "../../core/errors.js";
import { closeJsonPrefix, parseForcedToolCall } from "../../core/forced-tool-call.js";
import type { LlamaToolMode } from "./chat-tools.js";
import type { PushIterator } from "./push-iterator.js";

/**
 * Turns what llama.cpp writes into Herd chunks, by tool mode: plain text; function calls
 * (node-llama-cpp's params chunks: the first piece of a call carries its id and name, later pieces
 * only arguments); a forced call of one tool (the text is its arguments, streamed as they come); or a
 * forced call of one of several tools (the `{name, arguments}` text, one whole call at the end).
 */
export class ToolOutput {
  private readonly streamed = new Map<number, number>();
  private readonly forcedText: string[] = [];
  /** Tool calls sent so far. */
  calls = 0;

  constructor(
    private readonly mode: LlamaToolMode,
    private readonly out: PushIterator<ChatChunk>,
  ) {}

  /** A piece of the model's text. */
  onText(text: string): void {
    if (this.mode.kind === "forced") this.forcedText.push(text);
    else if (this.mode.kind === "forcedOne") {
      this.forcedText.push(text);
      this.onParamsChunk({ callIndex: 0, functionName: this.mode.tool.name, paramsChunk: text });
    } else this.out.push({ type: "text", text });
  }

  /** A piece of a function call's parameters (node-llama-cpp's `onFunctionCallParamsChunk`). */
  onParamsChunk(chunk: { callIndex: number; functionName: string; paramsChunk: string }): void {
    let index = this.streamed.get(chunk.callIndex);
    if (index === undefined) {
      index = this.calls++;
      this.streamed.set(chunk.callIndex, index);
      this.out.push({
        type: "tool-call",
        index,
        id: newCallId(),
        name: chunk.functionName,
        argumentsDelta: chunk.paramsChunk,
      });
    } else if (chunk.paramsChunk !== "") {
      this.out.push({ type: "tool-call", index, argumentsDelta: chunk.paramsChunk });
    }
  }

  /**
   * After generation: sends the calls that did not stream, the forced call of several tools, or
   * what closes a forced call that the token limit cut (`truncated`): the grammar kept the text a
   * prefix of valid JSON.
   */
  finish(truncated: boolean, functionCalls: readonly { functionName: string; params: unknown }[]): void {
    if (this.streamed.size === 0) {
      for (const call of functionCalls) this.whole(call.functionName, JSON.stringify(call.params ?? {}));
    }
    const text = this.forcedText.join("");
    if (this.mode.kind === "forced") {
      const parsed = parseForcedToolCall(text, this.mode.tools, truncated);
      if (!parsed) {
        throw new ProviderResponseError(
          `llama.cpp did not produce the forced tool call (tool_choice): ${JSON.stringify(text.slice(0, 200))}.`,
        );
      }
      this.whole(parsed.name, parsed.arguments);
    }
    if (this.mode.kind === "forcedOne") {
      const name = this.mode.tool.name;
      if (this.calls === 0) this.onParamsChunk({ callIndex: 0, functionName: name, paramsChunk: "" });
      const closed = truncated ? closeJsonPrefix(text) : text;
      if (closed.length > text.length && closed.startsWith(text)) {
        this.onParamsChunk({ callIndex: 0, functionName: name, paramsChunk: closed.slice(text.length) });
      }
    }
  }

  private whole(name: string, args: string): void {
    this.out.push({ type: "tool-call", index: this.calls++, id: newCallId(), name, argumentsDelta: args });
  }
}

function newCallId(): string {
  return `call_${randomBytes(12).toString("hex")}`;
}
