import type { IncomingMessage } from "node:http";
import { InvalidInputError } from "../core/errors.js";
import { PayloadTooLargeError } from "./http-errors.js";

/** Options of `readJsonBody`. */
export interface ReadJsonBodyOptions {
  /** The largest body accepted, in bytes; larger ones get 413. */
  limit: number;
  /** The deepest nesting of arrays and objects accepted. @default 64 */
  maxDepth?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Reads a request body as JSON. Stricter than a generic body parser, so that every malformed body
 * gets a 4xx that says what is wrong: over the limit (413, checked against Content-Length before
 * reading), empty, compressed, invalid UTF-8, invalid JSON, or nested too deeply (400).
 */
export async function readJsonBody(req: IncomingMessage, options: ReadJsonBodyOptions): Promise<unknown> {
  const { limit } = options;
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) throw new PayloadTooLargeError(limit);
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
    throw new InvalidInputError(
      `Unsupported Content-Encoding '${encoding.slice(0, 40)}': send the JSON body uncompressed.`,
      undefined,
      { status: 415 },
    );
  }
  const bytes = await collect(req, limit);
  if (bytes.length === 0) {
    throw new InvalidInputError("The request body is empty: send a JSON object with 'model' and 'messages'.");
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new InvalidInputError("The request body is not valid UTF-8: encode the JSON as UTF-8.");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message.slice(0, 200) : "";
    throw new InvalidInputError(
      `The request body is not valid JSON (${detail}). Send a JSON object with Content-Type: application/json.`,
    );
  }
  const maxDepth = options.maxDepth ?? 64;
  if (depthExceeds(value, maxDepth)) {
    throw new InvalidInputError(`The request body nests arrays or objects deeper than ${maxDepth} levels.`);
  }
  return value;
}

function collect(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new InvalidInputError(`The request body could not be read: ${error.message}`));
    };
    const onAborted = () => {
      cleanup();
      reject(new InvalidInputError("The client aborted the request while sending the body."));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

/** True when `value` nests arrays/objects deeper than `max` (checked without recursion). */
function depthExceeds(value: unknown, max: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) return true;
    const children = Array.isArray(node) ? node : Object.values(node as object);
    for (const child of children) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
