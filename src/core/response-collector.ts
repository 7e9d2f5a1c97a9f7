import type { ChatChunk, FinishReason, ToolCall, Usage } from "./chat.js";

interface PartialCall {
  id?: string;
  name?: string;
  args: string;
}

/** Folds streamed chunks into the whole answer: text, tool calls (by index), finish reason, usage. */
export class ResponseCollector {
  text = "";
  finishReason: FinishReason | undefined;
  usage: Usage | undefined;
  /** Notes about malformed pieces (tool-call arguments that are not JSON). */
  readonly warnings: string[] = [];
  private readonly calls = new Map<number, PartialCall>();

  add(chunk: ChatChunk): void {
    switch (chunk.type) {
      case "text":
        this.text += chunk.text;
        break;
      case "tool-call": {
        const call = this.calls.get(chunk.index) ?? { args: "" };
        call.id ??= chunk.id;
        call.name ??= chunk.name;
        call.args += chunk.argumentsDelta;
        this.calls.set(chunk.index, call);
        break;
      }
      case "finish":
        this.finishReason = chunk.finishReason;
        this.usage = chunk.usage;
        break;
    }
  }

  /** The complete tool calls, in index order, with parsed arguments. */
  toolCalls(): ToolCall[] {
    return [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, call]) => ({
        id: call.id ?? `call_${index}`,
        name: call.name ?? "",
        arguments: this.parseArguments(call),
      }));
  }

  private parseArguments(call: PartialCall): Record<string, unknown> {
    if (call.args.trim() === "") return {};
    try {
      const value: unknown = JSON.parse(call.args);
      if (value !== null && typeof value === "object" && !Array.isArray(value))
        return value as Record<string, unknown>;
    } catch {
      // reported below
    }
    this.warnings.push(
      `The model called "${call.name}" with arguments that are not a JSON object: ${call.args}`,
    );
    return {};
  }
}
