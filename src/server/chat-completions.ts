import type { ServerResponse } from "node:http";
import type { Request, Response } from "express";
import type { HerdStream, RequestMetadata } from "../core/pipeline.js";
import { type HerdRoutingInfo, routingInfo } from "../core/routing-info.js";
import { resolveModel } from "./models.js";
import { ChunkEncoder, CompletionBuilder, newIdentity } from "./openai-chunks.js";
import { toOpenAIError } from "./openai-error.js";
import { readJsonBody } from "./read-json-body.js";
import { chatCompletionRequestSchema } from "./request-schema.js";
import { routingHeaders } from "./routing-headers.js";
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
 */
export function chatCompletionsHandler(herd: ServedHerd, options: ChatHandlerOptions) {
  return async (req: Request, res: Response): Promise<void> => {
    const body = await readJsonBody(req, { limit: options.bodyLimit });
    const warnings =
      typeof body === "object" && body !== null && !Array.isArray(body)
        ? unsupportedFieldWarnings(body as Record<string, unknown>)
        : [];
    const parsed = validate(chatCompletionRequestSchema, body);
    const translated = translateChatRequest(parsed);
    const metadata = requestMetadata(req, body as Record<string, unknown>);
    if (metadata) translated.request.metadata = metadata;
    const choice = resolveModel(parsed.model, herd, options.onlyBase);
    translated.request.model = parsed.model;
    if (choice.kind === "base") translated.request.route = { baseOnly: true };
    if (choice.kind === "expert") translated.request.expert = choice.expert;

    const signal = abortOnDisconnect(res);
    const startedAt = performance.now();
    const stream = await herd.stream(translated.request, { signal });
    if (translated.stream) {
      await sendStream(stream, res, warnings, translated.includeUsage, options.onStreamError);
    } else {
      await sendCompletion(stream, res, warnings, startedAt);
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
  stream: HerdStream,
  res: Response,
  warnings: readonly string[],
  startedAt: number,
): Promise<void> {
  const builder = new CompletionBuilder();
  try {
    for await (const chunk of stream) builder.add(chunk);
  } finally {
    stream.cancel();
  }
  const info: HerdRoutingInfo & { durationMs?: number } = infoOf(stream, warnings);
  info.durationMs = round(performance.now() - startedAt);
  const body = builder.build(newIdentity(stream.target.model), info);
  if (res.destroyed) return;
  // Written directly: Express's res.json adds nothing here (no ETag, no JSONP) and costs time.
  const text = JSON.stringify(body);
  const headers = routingHeaders(info);
  headers["content-type"] = "application/json; charset=utf-8";
  headers["content-length"] = String(Buffer.byteLength(text));
  res.writeHead(200, headers);
  res.end(text);
}

async function sendStream(
  stream: HerdStream,
  res: Response,
  warnings: readonly string[],
  includeUsage: boolean,
  onStreamError: (error: unknown) => void,
): Promise<void> {
  const info = infoOf(stream, warnings);
  const encoder = new ChunkEncoder(newIdentity(stream.target.model), includeUsage);
  const sse = new SseWriter(res);
  sse.open(routingHeaders(info));
  try {
    await sse.send(encoder.first(info));
    for await (const chunk of stream) {
      if (sse.closed) break;
      for (const out of encoder.encode(chunk)) await sse.send(out);
    }
    const usage = encoder.usageChunk();
    if (usage) await sse.send(usage);
    sse.done();
  } catch (error) {
    if (sse.closed) return;
    onStreamError(error);
    await sse.send(toOpenAIError(error).body);
    sse.end();
  } finally {
    stream.cancel();
  }
}

/** The `herd` object: the routing decision, the target, and every warning so far (request fields first). */
function infoOf(stream: HerdStream, warnings: readonly string[]): HerdRoutingInfo {
  const later = stream.warnings;
  const all =
    later.length === 0 ? warnings : warnings.length === 0 ? later : [...new Set([...warnings, ...later])];
  return routingInfo(stream.requestId, stream.decision, stream.target, all);
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * What plugins key on: the OpenAI `user`, and a conversation id for sticky routing, from the
 * `x-herd-conversation-id` header or the OpenAI `metadata.conversation_id` field.
 */
function requestMetadata(req: Request, body: Record<string, unknown>): RequestMetadata | undefined {
  const metadata: RequestMetadata = {};
  if (typeof body.user === "string") metadata.user = body.user;
  const header = req.get("x-herd-conversation-id");
  const fromBody = (body.metadata as { conversation_id?: unknown } | null | undefined)?.conversation_id;
  const conversationId = header ?? (typeof fromBody === "string" ? fromBody : undefined);
  if (conversationId) metadata.conversationId = conversationId.slice(0, 256);
  return Object.keys(metadata).length > 0 ? metadata : undefined;
}
