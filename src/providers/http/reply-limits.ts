import { ReplyTooLargeError } from "../../core/errors.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * How much of a backend reply Herd reads whole, and what to say when a reply is larger.
 * Streamed replies are bounded per line or event instead (MAX_NDJSON_LINE_BYTES, parseSse).
 */
export interface ReplyLimit {
  /** The most bytes read; a longer reply fails with ReplyTooLargeError. */
  bytes: number;
  /** What the reply is, for the error: "a non-streamed chat reply". */
  what: string;
  /** How to get a smaller reply, appended to the error. */
  hint: string;
}

/**
 * The most of a Chroma collection listing (`get` with vectors) Herd reads: 80 MiB, sized from Herd's
 * own collections: 1,024 expert centroids of 4,096 dimensions (the largest embedders Herd uses) at
 * 20 bytes of JSON per number (Chroma writes a float32 in 10 to 13 characters; the rest covers ids
 * and metadata) is 1,024 x 4,096 x 20 bytes = 80 MiB.
 */
export const CHROMA_LISTING_BYTES = 1024 * 4096 * 20;

/**
 * The limits of replies Herd reads whole. Each is far above what a working backend sends and far
 * below what would hurt a server handling many requests at once: a reply past its limit comes from
 * a broken backend, a wrong URL (a file server, a proxy's error page) or a hostile one.
 */
export const REPLY_LIMITS = {
  /**
   * A non-streamed chat completion: 16 MiB. The largest real one carries log-probabilities: 8k
   * tokens with 20 alternatives each (vLLM's maximum) is about 10 MB of JSON; text alone is under 1 MB.
   */
  chat: {
    bytes: 16 * MiB,
    what: "a non-streamed chat reply",
    hint: "Lower max_tokens or top_logprobs, or stream the reply (stream: true).",
  },
  /**
   * A listing (vLLM's /v1/models, llama-server's /lora-adapters, Ollama's /api/tags) or another
   * management reply (an adapter loaded): 4 MiB, about 10,000 models or adapters at a few hundred
   * bytes each.
   */
  listing: {
    bytes: 4 * MiB,
    what: "a listing or management reply",
    hint: "Check that the URL points at the engine itself (not a proxy or file server).",
  },
  /**
   * Any Chroma reply but a collection listing (heartbeat, collection, upsert, query): 16 MiB. The
   * largest is a query for every entry of the knn examples collection: 100,000 example prompts at
   * about 150 bytes each (id, distance, `herd.expert` metadata) is 15 MB; a query of a few
   * centroids is a few KB.
   */
  chroma: {
    bytes: 16 * MiB,
    what: "a Chroma reply",
    hint: "Check that the Chroma URL (--chroma-url, CHROMA_URL) points at a Chroma server, not a proxy or file server.",
  },
  /** A Chroma collection listed with its vectors (ChromaIndex.list): CHROMA_LISTING_BYTES. */
  chromaListing: {
    bytes: CHROMA_LISTING_BYTES,
    what: "a Chroma collection listing with vectors",
    hint:
      "Check that the Chroma URL (--chroma-url, CHROMA_URL) points at a Chroma server, " +
      "and that the collection holds Herd's centroids (not every example prompt).",
  },
  /** A health check's reply: 64 KiB; only its status matters. */
  health: {
    bytes: 64 * KiB,
    what: "a health check reply",
    hint: "Check that the URL points at the engine's health endpoint.",
  },
} as const satisfies Record<string, ReplyLimit>;

/**
 * The most of an error reply kept for its message: 64 KiB. Longer error bodies are cut there, not
 * refused: the status already says the call failed, and the start of the body says why.
 */
export const ERROR_TEXT_BYTES = 64 * KiB;

/**
 * The bytes allowed per embedding in an embeddings reply: 256 KiB, room for an 8,192-dimension
 * vector written as JSON numbers of up to 32 characters (real ones use 10 to 20).
 */
const EMBEDDING_BYTES = 256 * KiB;

/** The limit of an embeddings reply for `inputs` texts: grows with the batch (1 MiB + 256 KiB per text). */
export function embeddingsReplyLimit(inputs: number): ReplyLimit {
  return {
    bytes: 1 * MiB + Math.max(1, inputs) * EMBEDDING_BYTES,
    what: `an embeddings reply for ${inputs} text${inputs === 1 ? "" : "s"}`,
    hint: "Check that the model is an embedding model, or lower the embedder's batchSize.",
  };
}

/** `16 MiB`, `64 KiB`, `300 bytes`: a byte count as people read it. */
export function formatBytes(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} bytes`;
}

/** Who sent a reply and where, for the error. */
export interface ReplySource {
  service: string;
  baseUrl: string;
  /** The path asked for, e.g. `/v1/chat/completions`. */
  path: string;
}

/** The error for a reply past its limit: names the backend, its URL, the path and the limit. */
export function replyTooLarge(source: ReplySource, limit: ReplyLimit, declared?: number): ReplyTooLargeError {
  const size = declared === undefined ? "" : ` (it announced ${formatBytes(declared)})`;
  return new ReplyTooLargeError(
    `${source.service} at ${source.baseUrl} sent a reply to ${source.path} larger than ${formatBytes(limit.bytes)}${size}, ` +
      `Herd's limit for ${limit.what}; Herd stopped reading it and closed the connection. ${limit.hint}`,
    limit.bytes,
    source.baseUrl,
  );
}

/** What `readUpTo` read: the bytes, and whether that was the whole body. */
export interface LimitedRead {
  bytes: Buffer;
  /** False when the body went on past the limit; `bytes` then holds its first `limit` bytes. */
  complete: boolean;
}

/**
 * Reads a byte stream (a Node stream or a web ReadableStream) to its end, or until it goes past
 * `limit` bytes: then it stops at once and leaves the loop, which destroys a Node stream and
 * cancels a web one, so no more of the body is received or held.
 */
export async function readUpTo(body: AsyncIterable<Uint8Array>, limit: number): Promise<LimitedRead> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const piece of body) {
    const chunk = Buffer.isBuffer(piece)
      ? piece
      : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    if (size + chunk.length > limit) {
      chunks.push(chunk.subarray(0, limit - size));
      return { bytes: Buffer.concat(chunks, limit), complete: false };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), complete: true };
}

/**
 * The same reply with its body bounded, for a client that reads a `Response` itself (the chromadb
 * client's `json()`). One that announces more than `limit` is refused before its body is read; one
 * that streams past it fails whoever reads it with ReplyTooLargeError, and the body stream is
 * cancelled, which closes the connection.
 */
export async function limitResponse(
  response: Response,
  source: ReplySource,
  limit: ReplyLimit,
): Promise<Response> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > limit.bytes) {
    await response.body?.cancel().catch(() => undefined);
    throw replyTooLarge(source, limit, declared);
  }
  if (!response.body) return response;
  let size = 0;
  const body = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        // Erroring the transform cancels the source: no more of the body is received or held.
        if (size > limit.bytes) controller.error(replyTooLarge(source, limit));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
