import { type FileHandle, open } from "node:fs/promises";
import { FileFormatError } from "../../core/errors.js";
import { bytesPerElement, decodeFloats, isFloatDType } from "./dtype.js";

/** One tensor entry of a safetensors header, with its absolute position in the file. */
export interface SafetensorsTensorInfo {
  name: string;
  /** The safetensors dtype name (`F32`, `F16`, `BF16`, `I64`, ...). */
  dtype: string;
  /** PyTorch order: `[out, in]` for a weight matrix. */
  shape: number[];
  /** Byte offset of the tensor's data from the start of the file. */
  offset: number;
  byteLength: number;
}

const ELEMENT_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** Safetensors caps the JSON header at 100 MB; a larger length means a corrupt or foreign file. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function corrupt(path: string, problem: string): FileFormatError {
  return new FileFormatError(
    `Corrupt safetensors file "${path}": ${problem}. Re-export or re-download the adapter.`,
    path,
  );
}

function isDimensionList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * A safetensors file opened for reading: the header is parsed at once, tensors are read one at a
 * time by offset, so a multi-GB adapter is never loaded whole.
 *
 * @example
 * const file = await SafetensorsFile.open("adapter_model.safetensors");
 * const a = await file.readFloats("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
 * await file.close();
 */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    /** Tensors by name, in header order. */
    readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>,
    /** The `__metadata__` string map (empty when absent). */
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  /** Opens and validates the header. Throws FileFormatError naming the file when it is not valid. */
  static async open(path: string): Promise<SafetensorsFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (error) {
      throw new FileFormatError(
        `Cannot open safetensors file "${path}": ${(error as Error).message}.`,
        path,
        {
          cause: error,
        },
      );
    }
    try {
      const { size } = await handle.stat();
      if (size < 8) throw corrupt(path, `the file is ${size} bytes, shorter than the 8-byte header length`);
      const lengthBytes = Buffer.alloc(8);
      await handle.read(lengthBytes, 0, 8, 0);
      const headerLength = Number(lengthBytes.readBigUInt64LE(0));
      if (headerLength > MAX_HEADER_BYTES || headerLength + 8 > size) {
        throw corrupt(path, `the header length ${headerLength} does not fit in a file of ${size} bytes`);
      }
      const headerBytes = Buffer.alloc(headerLength);
      await handle.read(headerBytes, 0, headerLength, 8);
      let header: unknown;
      try {
        header = JSON.parse(headerBytes.toString("utf8"));
      } catch (error) {
        throw corrupt(path, `the header is not JSON (${(error as Error).message})`);
      }
      if (typeof header !== "object" || header === null || Array.isArray(header)) {
        throw corrupt(path, "the header is not a JSON object");
      }
      const dataStart = 8 + headerLength;
      const dataLength = size - dataStart;
      const tensors = new Map<string, SafetensorsTensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
        if (name === "__metadata__") {
          if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
            throw corrupt(path, "__metadata__ is not an object of strings");
          }
          metadata = Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, String(v)]));
          continue;
        }
        const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
        if (typeof dtype !== "string" || !(dtype in ELEMENT_BYTES)) {
          throw corrupt(path, `tensor "${name}" has an unknown dtype ${JSON.stringify(dtype)}`);
        }
        if (!isDimensionList(shape)) throw corrupt(path, `tensor "${name}" has no valid shape`);
        if (!isDimensionList(offsets) || offsets.length !== 2 || offsets[0]! > offsets[1]!) {
          throw corrupt(path, `tensor "${name}" has no valid data_offsets`);
        }
        const [begin, end] = offsets as [number, number];
        const expected = shape.reduce((n, d) => n * d, 1) * ELEMENT_BYTES[dtype]!;
        if (end - begin !== expected) {
          throw corrupt(
            path,
            `tensor "${name}" [${shape}] ${dtype} needs ${expected} bytes, has ${end - begin}`,
          );
        }
        if (end > dataLength) {
          throw corrupt(
            path,
            `tensor "${name}" ends at byte ${end}, after the end of the data (${dataLength})`,
          );
        }
        tensors.set(name, { name, dtype, shape, offset: dataStart + begin, byteLength: end - begin });
      }
      return new SafetensorsFile(path, handle, tensors, metadata);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The header entry of a tensor; throws FileFormatError when it is missing. */
  info(name: string): SafetensorsTensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new FileFormatError(`Tensor "${name}" is missing from "${this.path}".`, this.path);
    return info;
  }

  /** Reads a tensor's raw bytes. */
  async readBytes(name: string): Promise<Uint8Array> {
    const info = this.info(name);
    const bytes = new Uint8Array(info.byteLength);
    let done = 0;
    while (done < info.byteLength) {
      const { bytesRead } = await this.handle.read(bytes, done, info.byteLength - done, info.offset + done);
      if (bytesRead === 0) throw corrupt(this.path, `tensor "${name}" is cut short`);
      done += bytesRead;
    }
    return bytes;
  }

  /** Reads a F32, F16 or BF16 tensor as float32 values in row-major order. */
  async readFloats(name: string): Promise<Float32Array> {
    const info = this.info(name);
    if (!isFloatDType(info.dtype)) {
      throw new FileFormatError(
        `Tensor "${name}" in "${this.path}" is ${info.dtype}; Herd reads F32, F16 and BF16 adapters. ` +
          "Dequantize the adapter (e.g. save it with torch_dtype=float16) and try again.",
        this.path,
      );
    }
    const count = info.byteLength / bytesPerElement(info.dtype);
    return decodeFloats(await this.readBytes(name), info.dtype, count);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
