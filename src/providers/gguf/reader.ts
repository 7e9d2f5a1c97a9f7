import { readSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { FileFormatError } from "../../core/errors.js";
import { bfloat16ToFloat, halfToFloat } from "./half.js";
import { type ByteSource, bufferSource, parseGgufHeader } from "./header-parser.js";
import { GgmlType, type GgufHeader, type GgufTensorInfo, ggmlTypeName } from "./types.js";

/** The window of the file the header parser reads through at a time. */
const WINDOW_BYTES = 1 << 20;

/**
 * A ByteSource reading a file through a sliding window (synchronous reads: the parser is
 * synchronous). Header bytes that are skipped (large arrays) are never read.
 */
function fileSource(fd: number, size: number): ByteSource {
  let buffer = Buffer.allocUnsafe(Math.min(WINDOW_BYTES, size));
  let start = 0;
  let end = 0;
  const source: ByteSource = {
    size,
    get buffer() {
      return buffer;
    },
    at(pos, n) {
      if (pos >= start && pos + n <= end) return pos - start;
      const length = Math.min(Math.max(n, WINDOW_BYTES), size - pos);
      if (length > buffer.byteLength) buffer = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const read = readSync(fd, buffer, done, length - done, pos + done);
        if (read === 0) break;
        done += read;
      }
      start = pos;
      end = pos + done;
      // The file shrank while being read: let the parser report it as truncated at this point.
      if (done < n) throw new FileFormatError(`The file changed while its GGUF header was read.`);
      return 0;
    },
  };
  return source;
}

async function openForReading(path: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === "ENOENT"
        ? "does not exist"
        : code === "EISDIR"
          ? "is a directory"
          : `cannot be read (${code})`;
    throw new FileFormatError(`GGUF file "${path}" ${problem}. Check the path.`, path, { cause: error });
  }
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

/**
 * Reads the header of a GGUF file (metadata and tensor infos) without reading tensor data,
 * so multi-gigabyte models cost only their header.
 * @throws FileFormatError naming the file when it is missing, not GGUF, truncated or corrupt
 * @example
 * const header = await readGgufHeader("model.gguf");
 * ggufString(header, "general.architecture"); // "llama"
 */
export async function readGgufHeader(path: string): Promise<GgufHeader> {
  const handle = await openForReading(path);
  try {
    const { size } = await handle.stat();
    try {
      return parseGgufHeader(fileSource(handle.fd, size), path);
    } catch (error) {
      if (error instanceof FileFormatError) {
        throw error.file ? error : new FileFormatError(`GGUF file "${path}": ${error.message}`, path);
      }
      throw new FileFormatError(
        `Cannot read the GGUF header of "${path}": ${(error as Error).message}`,
        path,
        {
          cause: error,
        },
      );
    }
  } finally {
    await handle.close();
  }
}

/** Parses a GGUF file held in memory (header only; use {@link decodeGgufTensor} for data). */
export function parseGguf(bytes: Uint8Array, path = "<memory>"): GgufHeader {
  return parseGgufHeader(bufferSource(bytes), path);
}

/** Finds a tensor's info by name. @throws FileFormatError naming the file and tensor when absent */
export function ggufTensorInfo(header: GgufHeader, name: string): GgufTensorInfo {
  const info = header.tensors.find((t) => t.name === name);
  if (!info) throw new FileFormatError(`GGUF file "${header.path}" has no tensor "${name}".`, header.path);
  return info;
}

/**
 * Decodes raw tensor bytes (F32, F16 or BF16) to float32 values in ggml order.
 * @throws FileFormatError for quantized or integer types
 */
export function decodeGgufTensor(header: GgufHeader, info: GgufTensorInfo, bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(info.elements);
  switch (info.type) {
    case GgmlType.F32:
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case GgmlType.F16:
      for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    case GgmlType.BF16:
      for (let i = 0; i < out.length; i++) out[i] = bfloat16ToFloat(view.getUint16(i * 2, true));
      return out;
    default:
      throw new FileFormatError(
        `Tensor "${info.name}" in "${header.path}" is ${ggmlTypeName(info.type)}; only F32, F16 and BF16 tensors can be read. Convert the file to F16 or F32.`,
        header.path,
      );
  }
}

/** Reads a tensor's raw bytes (any known type) by offset, without reading the rest of the file. */
export async function readGgufTensorBytes(header: GgufHeader, name: string): Promise<Uint8Array> {
  const info = ggufTensorInfo(header, name);
  const handle = await openForReading(header.path);
  try {
    return await readInfoBytes(handle, header, info);
  } finally {
    await handle.close();
  }
}

async function readInfoBytes(
  handle: FileHandle,
  header: GgufHeader,
  info: GgufTensorInfo,
): Promise<Uint8Array> {
  if (info.byteLength === undefined) {
    throw new FileFormatError(
      `Tensor "${info.name}" in "${header.path}" has ggml ${ggmlTypeName(info.type)}, which Herd cannot size.`,
      header.path,
    );
  }
  const bytes = await readAt(handle, header.dataOffset + info.offset, info.byteLength);
  if (bytes.byteLength < info.byteLength) {
    throw new FileFormatError(
      `GGUF file "${header.path}" is truncated inside tensor "${info.name}". Re-download or regenerate the file.`,
      header.path,
    );
  }
  return bytes;
}

/**
 * Reads one F32/F16/BF16 tensor as float32 values in ggml order (`dims[0]` fastest).
 * @example
 * const a = await readGgufTensor(header, "blk.0.attn_q.weight.lora_a");
 */
export async function readGgufTensor(header: GgufHeader, name: string): Promise<Float32Array> {
  const info = ggufTensorInfo(header, name);
  return decodeGgufTensor(header, info, await readGgufTensorBytes(header, name));
}

/**
 * Streams tensors one at a time through one open file handle (all tensors, or the named ones in
 * the given order), so only one tensor is in memory at a time.
 */
export async function* readGgufTensors(
  header: GgufHeader,
  names: readonly string[] = header.tensors.map((t) => t.name),
): AsyncGenerator<{ info: GgufTensorInfo; data: Float32Array }> {
  const infos = names.map((n) => ggufTensorInfo(header, n));
  const handle = await openForReading(header.path);
  try {
    for (const info of infos) {
      yield { info, data: decodeGgufTensor(header, info, await readInfoBytes(handle, header, info)) };
    }
  } finally {
    await handle.close();
  }
}
