import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import { stampRetryable } from "@langchain/core/errors";
import type {
  BaseLanguageModelInput,
  StructuredOutputMethodOptions,
} from "@langchain/core/language_models/base";
import {
  BaseChatModel,
  type BaseChatModelCallOptions,
  type BaseChatModelParams,
  type BindToolsInput,
} from "@langchain/core/language_models/chat_models";
import {
  assembleStructuredOutputPipeline,
  createContentParser,
  createFunctionCallingParser,
} from "@langchain/core/language_models/structured_output";
import { AIMessage, AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import type { Runnable } from "@langchain/core/runnables";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";
import { toJsonSchema } from "@langchain/core/utils/json_schema";
import type { ChatChunk, GenerationParams, ResponseFormat } from "./chat.js";
import { toChatMessages, toToolChoice, toToolDefinition } from "./chat-model-messages.js";
import { validateCallOptions } from "./chat-model-options.js";
import { HerdError, InvalidInputError } from "./errors.js";
import type { HerdRequest, HerdStream, RequestPipeline } from "./pipeline.js";
import { type HerdRoutingInfo, routingInfo } from "./routing-info.js";

/** Settings that can be given per call (`model.invoke(x, { expert: "code" })`) or as defaults. */
export interface HerdChatModelSettings {
  /** How many experts to blend. @default the router's setting */
  topExperts?: number;
  /** Force this expert; routing is skipped. @default routed */
  expert?: string;
  /** The model as an OpenAI client would name it (`herd`, `herd:<expert>`, the base model). @default routed */
  model?: string;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  /** OpenAI-style presence penalty, -2..2 (Ollama option; llama.cpp repeat-penalty setting). */
  presencePenalty?: number;
  /** OpenAI-style frequency penalty, -2..2 (Ollama option; llama.cpp repeat-penalty setting). */
  frequencyPenalty?: number;
  /** Stop sequences. */
  stop?: string[];
  /** Most tokens to generate. @default the backend's limit */
  maxTokens?: number;
  seed?: number;
  /** Keys sticky routing (and logs) on a conversation. @default none */
  conversationId?: string;
}

/** Call options of `HerdChatModel`. */
export interface HerdChatModelCallOptions extends BaseChatModelCallOptions, HerdChatModelSettings {
  /** Tools the model may call (set by `bindTools`). */
  tools?: BindToolsInput[];
  /** Constrain the answer to JSON or a JSON schema (set by `withStructuredOutput`). */
  responseFormat?: ResponseFormat;
}

/** Constructor fields of `HerdChatModel`. */
export interface HerdChatModelInput extends BaseChatModelParams, HerdChatModelSettings {
  /** What runs requests: a `Herd` (from `createHerd`) or a `Pipeline`. */
  herd: RequestPipeline;
  /**
   * Retries of a failed call before its first token, with exponential backoff (errors that a retry
   * cannot fix, such as a missing model or a bad option, fail at once). @default 2
   */
  maxRetries?: number;
}

/** Fewer than LangChain's 6: a local backend that is down stays down, and the caller should hear soon. */
const DEFAULT_MAX_RETRIES = 2;

const SETTING_KEYS = [
  "topExperts",
  "expert",
  "model",
  "temperature",
  "topK",
  "topP",
  "repetitionPenalty",
  "presencePenalty",
  "frequencyPenalty",
  "stop",
  "maxTokens",
  "seed",
  "conversationId",
] as const satisfies readonly (keyof HerdChatModelSettings)[];

/**
 * A LangChain chat model that routes every call to the right expert(s), then streams the answer from
 * the chat provider. Drop-in for `ChatOllama`/`ChatOpenAI` in chains and agents.
 * The routing decision is in `response_metadata.herd`, in the run's output, and in an
 * `herd_routing` custom event, so tracing shows why an expert answered.
 *
 * @example
 * const herd = await createHerd({ expertsDir: "experts" });
 * const model = new HerdChatModel({ herd, temperature: 0.2 });
 * const reply = await model.invoke("Write a SQL query that counts users per country");
 * reply.response_metadata.herd.experts; // [{ name: "code", weight: 1, ... }]
 */
export class HerdChatModel extends BaseChatModel<HerdChatModelCallOptions, AIMessageChunk> {
  static override lc_name(): string {
    return "HerdChatModel";
  }

  readonly herd: RequestPipeline;
  readonly settings: Readonly<HerdChatModelSettings>;

  constructor(fields: HerdChatModelInput) {
    super({ ...fields, maxRetries: fields.maxRetries ?? DEFAULT_MAX_RETRIES });
    this.herd = fields.herd;
    const settings: HerdChatModelSettings = {};
    for (const key of SETTING_KEYS) {
      if (fields[key] !== undefined) (settings as Record<string, unknown>)[key] = fields[key];
    }
    validateCallOptions(settings);
    this.settings = settings;
  }

  override _llmType(): string {
    return "herd";
  }

  override invocationParams(options?: this["ParsedCallOptions"]): HerdChatModelSettings & {
    tools?: string[];
    responseFormat?: ResponseFormat["type"];
  } {
    const merged = this.mergedSettings(options);
    return {
      ...merged,
      ...(options?.tools ? { tools: options.tools.map((t) => convertToOpenAITool(t).function.name) } : {}),
      ...(options?.responseFormat ? { responseFormat: options.responseFormat.type } : {}),
    };
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    const merged = this.mergedSettings(options);
    return {
      ls_provider: "herd",
      ls_model_name: merged.model ?? merged.expert ?? "herd",
      ls_model_type: "chat" as const,
      ls_temperature: merged.temperature,
      ls_max_tokens: merged.maxTokens,
      ls_stop: merged.stop,
    };
  }

  override bindTools(
    tools: BindToolsInput[],
    kwargs?: Partial<HerdChatModelCallOptions>,
  ): Runnable<BaseLanguageModelInput, AIMessageChunk, HerdChatModelCallOptions> {
    return this.withConfig({ ...kwargs, tools });
  }

  override async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    let final: ChatGenerationChunk | undefined;
    for await (const chunk of this._streamResponseChunks(messages, options, runManager)) {
      final = final ? final.concat(chunk) : chunk;
    }
    const merged = final!.message as AIMessageChunk;
    const message = new AIMessage({
      id: merged.id,
      content: merged.content,
      tool_calls: merged.tool_calls,
      invalid_tool_calls: merged.invalid_tool_calls,
      usage_metadata: merged.usage_metadata,
      response_metadata: merged.response_metadata,
      additional_kwargs: merged.additional_kwargs,
    });
    return {
      generations: [{ text: final!.text, message, generationInfo: final!.generationInfo }],
      llmOutput: { herd: merged.response_metadata.herd },
    };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const request = this.toRequest(messages, options);
    const signal = options.signal;
    const stream = await this.caller.callWithOptions({ signal }, () => this.open(request, signal));
    const started: HerdRoutingInfo = routingInfo(
      stream.requestId,
      stream.decision,
      stream.target,
      stream.warnings,
    );
    await runManager?.handleCustomEvent("herd_routing", started);
    for await (const chunk of stream) {
      const generation = this.toGenerationChunk(chunk, stream);
      if (chunk.type !== "finish") {
        await runManager?.handleLLMNewToken(generation.text, undefined, undefined, undefined, undefined, {
          chunk: generation,
        });
      }
      yield generation;
    }
  }

  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    outputSchema: Parameters<BaseChatModel["withStructuredOutput"]>[0],
    config?: StructuredOutputMethodOptions<false>,
  ): Runnable<BaseLanguageModelInput, RunOutput>;
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    outputSchema: Parameters<BaseChatModel["withStructuredOutput"]>[0],
    config?: StructuredOutputMethodOptions<true>,
  ): Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  /**
   * Returns a runnable whose output is parsed against the schema (zod or JSON Schema).
   * `method`: `jsonSchema` (default; the backend constrains the text to the schema), `jsonMode`
   * (plain JSON), or `functionCalling` (a forced tool call). `includeRaw` returns `{ raw, parsed }`.
   */
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    outputSchema: Parameters<BaseChatModel["withStructuredOutput"]>[0],
    config?: StructuredOutputMethodOptions<boolean>,
  ):
    | Runnable<BaseLanguageModelInput, RunOutput>
    | Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }> {
    const schema = outputSchema as Parameters<typeof createContentParser>[0];
    // The plain JSON schema: as passed when it is one, converted when it is a zod schema.
    const jsonSchema = toJsonSchema(schema as Parameters<typeof toJsonSchema>[0]) as Record<string, unknown>;
    const name = config?.name ?? (typeof jsonSchema.title === "string" ? jsonSchema.title : "extract");
    const method = structuredOutputMethod(config?.method);
    const traced = { kwargs: { method }, schema: jsonSchema };
    let llm: Runnable<BaseLanguageModelInput, AIMessageChunk>;
    let parser: Runnable<AIMessageChunk, RunOutput>;
    if (method === "functionCalling") {
      const tool = {
        type: "function",
        function: {
          name,
          description:
            typeof jsonSchema.description === "string" ? jsonSchema.description : `Returns ${name}.`,
          parameters: jsonSchema,
        },
      };
      llm = this.withConfig({ tools: [tool], tool_choice: name, ls_structured_output_format: traced });
      parser = createFunctionCallingParser(schema, name) as unknown as Runnable<AIMessageChunk, RunOutput>;
    } else {
      const responseFormat: ResponseFormat =
        method === "jsonMode" ? { type: "json" } : { type: "json_schema", schema: jsonSchema, name };
      llm = this.withConfig({ responseFormat, ls_structured_output_format: traced });
      parser = createContentParser(schema) as unknown as Runnable<AIMessageChunk, RunOutput>;
    }
    return assembleStructuredOutputPipeline(llm, parser, config?.includeRaw) as
      | Runnable<BaseLanguageModelInput, RunOutput>
      | Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  }

  /** Opens the stream; errors that a retry cannot fix are marked so `this.caller` gives up at once. */
  private async open(request: HerdRequest, signal?: AbortSignal): Promise<HerdStream> {
    try {
      return await this.herd.stream(request, { signal });
    } catch (error) {
      if (HerdError.isInstance(error)) stampRetryable(error, error.isRetryable);
      throw error;
    }
  }

  private mergedSettings(options?: Partial<HerdChatModelCallOptions>): HerdChatModelSettings {
    const merged: HerdChatModelSettings = { ...this.settings };
    for (const key of SETTING_KEYS) {
      if (options?.[key] !== undefined) (merged as Record<string, unknown>)[key] = options[key];
    }
    return merged;
  }

  private toRequest(messages: BaseMessage[], options: this["ParsedCallOptions"]): HerdRequest {
    const s = this.mergedSettings(options);
    validateCallOptions(s);
    const params: GenerationParams = {};
    if (s.temperature !== undefined) params.temperature = s.temperature;
    if (s.topK !== undefined) params.topK = s.topK;
    if (s.topP !== undefined) params.topP = s.topP;
    if (s.repetitionPenalty !== undefined) params.repetitionPenalty = s.repetitionPenalty;
    if (s.presencePenalty !== undefined) params.presencePenalty = s.presencePenalty;
    if (s.frequencyPenalty !== undefined) params.frequencyPenalty = s.frequencyPenalty;
    if (s.stop !== undefined && s.stop.length > 0) params.stop = s.stop;
    if (s.maxTokens !== undefined) params.maxTokens = s.maxTokens;
    if (s.seed !== undefined) params.seed = s.seed;
    const request: HerdRequest = { messages: toChatMessages(messages), params };
    if (options.tools && options.tools.length > 0) {
      request.tools = options.tools.map((tool) => toToolDefinition(convertToOpenAITool(tool)));
      const choice = toToolChoice(options.tool_choice);
      if (choice) request.toolChoice = choice;
    }
    if (options.responseFormat) request.responseFormat = options.responseFormat;
    if (s.model !== undefined) request.model = s.model;
    if (s.expert !== undefined) request.expert = s.expert;
    if (s.topExperts !== undefined) request.topExperts = s.topExperts;
    if (s.conversationId !== undefined) request.metadata = { conversationId: s.conversationId };
    return request;
  }

  private toGenerationChunk(chunk: ChatChunk, stream: HerdStream): ChatGenerationChunk {
    switch (chunk.type) {
      case "text":
        return new ChatGenerationChunk({
          text: chunk.text,
          message: new AIMessageChunk({ content: chunk.text }),
        });
      case "tool-call":
        return new ChatGenerationChunk({
          text: "",
          message: new AIMessageChunk({
            content: "",
            tool_call_chunks: [
              {
                type: "tool_call_chunk",
                index: chunk.index,
                id: chunk.id,
                name: chunk.name,
                args: chunk.argumentsDelta,
              },
            ],
          }),
        });
      case "finish": {
        const herd = routingInfo(stream.requestId, stream.decision, stream.target, stream.warnings);
        // `model` is LangChain's standard key; `model_name` is what ChatOpenAI and ChatOllama report.
        const metadata = {
          model: stream.target.model,
          model_name: stream.target.model,
          finish_reason: chunk.finishReason,
          herd,
        };
        return new ChatGenerationChunk({
          text: "",
          generationInfo: metadata,
          message: new AIMessageChunk({
            content: "",
            response_metadata: metadata,
            ...(chunk.usage
              ? {
                  usage_metadata: {
                    input_tokens: chunk.usage.inputTokens,
                    output_tokens: chunk.usage.outputTokens,
                    total_tokens: chunk.usage.inputTokens + chunk.usage.outputTokens,
                  },
                }
              : {}),
          }),
        });
      }
    }
  }
}

/** LangChain's structured-output method names (the snake_case spellings some callers use are accepted). */
function structuredOutputMethod(method: string | undefined): "functionCalling" | "jsonSchema" | "jsonMode" {
  switch (method ?? "jsonSchema") {
    case "functionCalling":
    case "function_calling":
      return "functionCalling";
    case "jsonSchema":
    case "json_schema":
      return "jsonSchema";
    case "jsonMode":
    case "json_mode":
      return "jsonMode";
    default:
      throw new InvalidInputError(
        `withStructuredOutput method "${method}" is not supported; use "jsonSchema", "jsonMode" or "functionCalling".`,
        "method",
        { code: "unsupported_value" },
      );
  }
}

/**
 * The routing decision attached to a HerdChatModel reply (`response_metadata.herd`), typed.
 *
 * @example
 * const reply = await model.invoke("Prove that sqrt(2) is irrational");
 * routingOf(reply)?.experts[0]?.name; // "math"
 */
export function routingOf(message: {
  response_metadata?: Record<string, unknown>;
}): HerdRoutingInfo | undefined {
  const herd = message.response_metadata?.herd;
  return herd && typeof herd === "object" ? (herd as HerdRoutingInfo) : undefined;
}
