import type { ChatRequest } from "../../../core/chat.js";
import { InvalidInputError } from "../../../core/errors.js";
import type { LoraxMergeOptions } from "./lorax-provider.js";

/** What `/generate_stream` runs: a merge of adapters (ids and routing weights), one adapter, or the base. */
export type NativeAdapters =
  | { kind: "merge"; ids: string[]; weights: number[]; merge: LoraxMergeOptions }
  | { kind: "adapter"; id: string }
  | { kind: "base" };

/** Why a request goes native, named in refusals. */
export type NativeReason = "merge" | "logprobs";

const WHY: Record<NativeReason, string> = {
  merge: "LoRAX merges adapters through /generate_stream",
  logprobs: "LoRAX returns token log-probabilities only through /generate_stream",
};
const FIX: Record<NativeReason, string> = {
  merge: "drop provider.merge to use prebuilt blend adapters",
  logprobs: "drop logprobs",
};

/**
 * The `parameters` of LoRAX's native POST /generate_stream (router/src/lib.rs GenerateParameters)
 * for a chat request: the adapters, sampling (TGI-style ranges), penalties, stop, and with
 * `logprobs` the `return_k_alternatives` of `top_logprobs` (every token event carries its own
 * `logprob`). Tools and a response format cannot be honoured there: they are refused (400).
 */
export function nativeParameters(
  request: ChatRequest,
  adapters: NativeAdapters,
  options: { source: string; defaultMaxTokens: number; reason: NativeReason },
): Record<string, unknown> {
  const why = WHY[options.reason];
  const fix = FIX[options.reason];
  if (request.tools && request.tools.length > 0 && request.toolChoice !== "none") {
    throw new InvalidInputError(
      `${why}, which cannot call tools; send the request without tools, or ${fix}.`,
      "tools",
    );
  }
  if (request.responseFormat && request.responseFormat.type !== "text") {
    throw new InvalidInputError(
      `${why}, where Herd does not constrain the output format; drop response_format, or ${fix}.`,
      "response_format",
    );
  }
  const p = request.params;
  const parameters: Record<string, unknown> = {};
  if (adapters.kind === "merge") {
    const merge = adapters.merge;
    parameters.merged_adapters = {
      ids: adapters.ids,
      weights: adapters.weights,
      merge_strategy: merge.strategy ?? "linear",
      ...(merge.density !== undefined ? { density: merge.density } : {}),
      ...(merge.majoritySignMethod ? { majority_sign_method: merge.majoritySignMethod } : {}),
    };
  }
  if (adapters.kind === "adapter") parameters.adapter_id = adapters.id;
  if (adapters.kind !== "base") parameters.adapter_source = options.source;
  parameters.max_new_tokens = p.maxTokens ?? options.defaultMaxTokens;
  parameters.details = true;
  // TGI-style validation: temperature and top_p must be strictly inside their ranges, else omitted.
  if (p.temperature !== undefined && p.temperature > 0) {
    parameters.temperature = p.temperature;
    parameters.do_sample = true;
  }
  if (p.topP !== undefined && p.topP > 0 && p.topP < 1) parameters.top_p = p.topP;
  if (p.topK !== undefined && p.topK > 0) parameters.top_k = p.topK;
  if (p.repetitionPenalty !== undefined && p.repetitionPenalty > 0)
    parameters.repetition_penalty = p.repetitionPenalty;
  if (p.seed !== undefined) parameters.seed = p.seed;
  if (p.presencePenalty !== undefined) parameters.presence_penalty = p.presencePenalty;
  if (p.frequencyPenalty !== undefined) parameters.frequency_penalty = p.frequencyPenalty;
  if (p.stop && p.stop.length > 0) parameters.stop = p.stop;
  // validation.rs refuses return_k_alternatives <= 0: send it only when alternatives are wanted.
  if (p.logprobs && (p.topLogprobs ?? 0) > 0) parameters.return_k_alternatives = p.topLogprobs;
  return parameters;
}
