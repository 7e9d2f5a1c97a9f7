import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { Transform, type TransformCallback } from "node:stream";
import parser from "stream-json/parser.js";
import streamArray from "stream-json/streamers/stream-array.js";
import { InvalidInputError } from "../errors.js";
import { readLines } from "./line-reader.js";

/** One record of a dataset file: a parsed row, or why the record at that place could not be used. */
export type DatasetRecord =
  | { where: string; row: unknown; problem?: undefined }
  | { where: string; row?: undefined; problem: string };

/** Settings of {@link readDatasetRows}. */
export interface ReadDatasetOptions {
  /** The largest line (JSONL) or array element (JSON) kept, in bytes. @default 4 MiB */
  maxRecordBytes?: number;
  /** Stops reading early. */
  signal?: AbortSignal;
}

/** The default bound on one record: room for long airoboros answers, far from a memory problem. */
export const DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** Whether a file is JSON Lines or one JSON array, from its first non-blank byte. */
export async function detectDatasetFormat(file: string): Promise<"jsonl" | "json-array"> {
  const handle = await open(file, "r").catch((error: NodeJS.ErrnoException) => {
    throw new InvalidInputError(
      error.code === "ENOENT"
        ? `The dataset ${file} does not exist. Check the --data path.`
        : `Cannot read the dataset ${file}: ${error.message}.`,
      "data",
      { cause: error },
    );
  });
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const text = head.toString("utf8", 0, bytesRead).replace(/^\uFEFF/, "");
    return text.trimStart().startsWith("[") ? "json-array" : "jsonl";
  } finally {
    await handle.close();
  }
}

/**
 * Streams the rows of a JSONL file or of a file holding one JSON array, in constant memory.
 * A JSONL line that is not JSON or too long comes back as a problem with its line number; a
 * JSON array with a syntax error cannot be resynchronised and throws InvalidInputError.
 */
export async function* readDatasetRows(
  file: string,
  options: ReadDatasetOptions = {},
): AsyncGenerator<DatasetRecord> {
  const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const format = await detectDatasetFormat(file);
  const input = createReadStream(file, { highWaterMark: 256 * 1024, signal: options.signal });
  try {
    if (format === "jsonl") yield* jsonlRows(input, max);
    else yield* arrayRows(file, input, max);
  } finally {
    input.destroy();
  }
}

async function* jsonlRows(input: NodeJS.ReadableStream, max: number): AsyncGenerator<DatasetRecord> {
  for await (const read of readLines(input as never, max)) {
    const where = `line ${read.line}`;
    if (read.tooLong !== undefined) {
      yield {
        where,
        problem: `longer than ${max} bytes (${read.tooLong}); raise --max-line-bytes to keep it`,
      };
      continue;
    }
    if (read.text.trim() === "") continue;
    try {
      yield { where, row: JSON.parse(read.text) };
    } catch (error) {
      yield { where, problem: `not valid JSON (${(error as Error).message})` };
    }
  }
}

async function* arrayRows(
  file: string,
  input: NodeJS.ReadableStream,
  max: number,
): AsyncGenerator<DatasetRecord> {
  const tokens = parser.asStream();
  const guard = new ElementSizeGuard(max);
  const items = streamArray.asStream();
  const fail = (error: Error) => items.destroy(error);
  input.on("error", fail);
  tokens.on("error", fail);
  guard.on("error", fail);
  input.pipe(tokens).pipe(guard).pipe(items);
  try {
    for await (const item of items as AsyncIterable<{ key: number; value: unknown }>) {
      yield { where: `element ${item.key + 1}`, row: item.value };
    }
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    throw new InvalidInputError(
      `${file} is not a valid JSON array (${(error as Error).message}) after element ${guard.elements}. ` +
        "Fix the file, or convert it to JSON Lines (one object per line) so bad rows are skipped instead.",
      "data",
      { cause: error },
    );
  } finally {
    tokens.destroy();
    guard.destroy();
    items.destroy();
  }
}

const PRIMITIVE_STARTS = new Set(["startString", "startNumber", "nullValue", "trueValue", "falseValue"]);

/** Counts the text of each top-level array element as the tokens pass, and stops at the bound. */
class ElementSizeGuard extends Transform {
  private depth = 0;
  private size = 0;
  elements = 0;

  constructor(private readonly max: number) {
    super({ objectMode: true });
  }

  override _transform(token: { name: string; value?: unknown }, _: string, done: TransformCallback): void {
    const name = token.name;
    if (name === "startObject" || name === "startArray") {
      if (this.depth === 1) this.begin();
      this.depth++;
    } else if (name === "endObject" || name === "endArray") {
      this.depth--;
    } else if (name.endsWith("Chunk")) {
      this.size += String(token.value).length;
      if (this.size > this.max) {
        done(
          new InvalidInputError(
            `Element ${this.elements} of the JSON array is longer than ${this.max} bytes; raise --max-line-bytes, or split the element.`,
            "data",
          ),
        );
        return;
      }
    } else if (this.depth === 1 && PRIMITIVE_STARTS.has(name)) {
      this.begin();
    }
    done(null, token);
  }

  private begin(): void {
    this.elements++;
    this.size = 0;
  }
}
