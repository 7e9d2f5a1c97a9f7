import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestMetadata } from "../core/pipeline.js";
import { type HerdRoutingInfo, routingInfo } from "../core/routing-info.js";
import { ChoiceStreams } from "./choice-streams.js";
import { resolveModel } from "./models.js";
import {
  type AnswerShape,
  buildCompletion,
  ChunkEncoder,
  CompletionBuilder,
  newIdentity,
} from "./openai-chunks.js";
import { toOpenAIError } from "./openai-error.js";
import { readJsonBody } from "./read-json-body.js";
import { chatCompletionRequestSchema } from "./request-schema.js";
import { routingHeaders } from "./routing-headers.js";
import { sendJson } from "./send-json.js";
import type { ServedHerd } from "./served-herd.js";
import { SseWriter } from "./sse-writer.js";
import { translateChatRequest } from "./translate-request.js";
import { unsupportedFieldWarnings } from "./unsupported-fields.js";
import { validate } from "./validate.js";

/** Settings the chat handler needs from the app. */
export interface ChatHandlerOptions {
  bodyLimit: number;
  onlyBase: boolean;
  /** Receives errors that happen after a stream started (the client sees an error event). */
  onStreamError: (error: unknown) => void;
}

/**
 * `POST /v1/chat/completions`: validates and translates the OpenAI request, routes it through Herd,
 * and answers as one `chat.completion` or as server-sent `chat.completion.chunk` events. Errors before
 * the first byte become OpenAI error responses (thrown to the app's error handler); errors after it
 * become an error event that ends the stream. A client that disconnects aborts the backend request.
 * Plain Node types: `createApp` serves this route before Express (its `handle`, see there).
 */
export function chatCompletionsHandler(herd: ServedHerd, options: ChatHandlerOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readJsonBody(req, { limit: options.bodyLimit });
    const warnings =
      typeof body === "object" && body !== null && !Array.isArray(body)
        ? unsupportedFieldWarnings(body as Record<string, unknown>)
        : [];
    const parsed = validate(chatCompletionRequestSchema, body);
    const translated = translateChatRequest(parsed);
    translated.request.metadata = requestMetadata(req, body as Record<string, unknown>);
    const choice = resolveModel(parsed.model, herd, options.onlyBase);
    translated.request.model = parsed.model;
    if (choice.kind === "base") translated.request.route = { baseOnly: true };
    if (choice.kind === "expert") translated.request.expert = choice.expert;

    const requestId = res.getHeader("x-request-id");
    if (typeof requestId === "string") translated.request.id = requestId;

    const signal = abortOnDisconnect(res);
    const startedAt = performance.now();
    const streams = await ChoiceStreams.open(herd, translated.request, translated.choices, {
      signal,
      stream: translated.stream,
    });
    const shape: AnswerShape = {
      legacyFunctions: translated.legacyFunctions,
      logprobs: translated.logprobs,
      singleToolCall: translated.request.parallelToolCalls === false,
    };
    if (translated.stream) {
      await sendStream(streams, res, warnings, translated.includeUsage, shape, options.onStreamError);
    } else {
      await sendCompletion(streams, res, warnings, startedAt, shape, options.onStreamError);
    }
  };
}

/** An AbortSignal that fires when the client goes away before the response is complete. */
function abortOnDisconnect(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

async function sendCompletion(
  streams: ChoiceStreams,
  res: ServerResponse,
  warnings: readonly string[],
  startedAt: number,
  shape: AnswerShape,
  onLateError: (error: unknown) => void,
): Promise<void> {
  const builders = Array.from({ length: streams.count }, () => new CompletionBuilder());
  let answered = false;
  const answer = () => {
    answered = true;
    const info: HerdRoutingInfo & { durationMs?: number } = infoOf(streams, warnings);
    info.durationMs = round(performance.now() - startedAt);
    const body = buildCompletion(newIdentity(streams.first.target.model), info, builders, shape);
    if (!res.destroyed) sendJson(res, 200, body, routingHeaders(info));
  };
  try {
    // The answer goes out once every choice has finished; the loop then only lets the streams
    // end by themselves (the backend's reply read to its end, its connection kept).
    for await (const { index, chunk } of streams.merge()) {
      if (answered) continue;
      const builder = builders[index]!;
      builder.add(chunk);
      if (builder.finished && builders.every((b) => b.finished)) answer();
    }
    if (!answered) answer();
  } catch (error) {
    if (!answered) throw error;
    onLateError(error);
  } finally {
    streams.cancel();
  }
}

async function sendStream(
  streams: ChoiceStreams,
  res: ServerResponse,
  warnings: readonly string[],
  includeUsage: boolean,
  shape: AnswerShape,
  onStreamError: (error: unknown) => void,
): Promise<void> {
  const info = infoOf(streams, warnings);
  const encoder = new ChunkEncoder(
    newIdentity(streams.first.target.model),
    includeUsage,
    streams.count,
    shape,
  );
  const sse = new SseWriter(res);
  sse.open(routingHeaders(info));
  let answered = false;
  // The usage chunk and [DONE] go out as soon as every choice has finished, in the same socket write
  // as the last events, not after the backend's reply has been closed (an I/O turn later). It carries
  // the warnings made since the first chunk (a backend that reported no usage, say).
  const complete = async () => {
    answered = true;
    if (includeUsage) {
      const sent = new Set(info.warnings);
      const usage = encoder.usageChunk(streams.warnings.filter((w) => !sent.has(w)));
      if (usage) await sse.send(usage);
    }
    sse.done();
  };
  try {
    await sse.send(encoder.first(info));
    for await (const { index, chunk } of streams.merge()) {
      // Once answered, the loop only lets the streams end by themselves (the backend's reply is
      // drained, so its keep-alive socket is reused); a client that left stops them.
      if (answered) continue;
      if (sse.closed) break;
      for (const out of encoder.encode(chunk, index)) await sse.send(out);
      if (encoder.finished) await complete();
    }
    if (!answered) await complete();
  } catch (error) {
    if (answered) {
      onStreamError(error);
      return;
    }
    if (sse.closed) return;
    onStreamError(error);
    await sse.send(toOpenAIError(error).body);
    sse.end();
  } finally {
    streams.cancel();
  }
}

/**
 * The `herd` object: the routing decision and target of the first choice, and every warning so far
 * (request fields first, then each choice's).
 */
function infoOf(streams: ChoiceStreams, warnings: readonly string[]): HerdRoutingInfo {
  const { first } = streams;
  const later = streams.warnings;
  const all =
    later.length === 0 ? warnings : warnings.length === 0 ? later : [...new Set([...warnings, ...later])];
  return routingInfo(first.requestId, first.decision, first.target, all);
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * What plugins key on: the route (for metrics), the OpenAI `user`, and a conversation id for sticky routing, from the
 * `x-herd-conversation-id` header or the OpenAI `metadata.conversation_id` field.
 */
function requestMetadata(req: IncomingMessage, body: Record<string, unknown>): RequestMetadata {
  // `route` labels the request in the metrics.
  const metadata: RequestMetadata = { route: CHAT_ROUTE };
  if (typeof body.user === "string") metadata.user = body.user;
  const sent = req.headers["x-herd-conversation-id"];
  const header = typeof sent === "string" ? sent : undefined;
  const fromBody = (body.metadata as { conversation_id?: unknown } | null | undefined)?.conversation_id;
  const conversationId = header ?? (typeof fromBody === "string" ? fromBody : undefined);
  if (conversationId) metadata.conversationId = conversationId.slice(0, 256);
  return metadata;
}

/** The path of this route, and its `route` label in the metrics. */
export const CHAT_ROUTE = "/v1/chat/completions";
