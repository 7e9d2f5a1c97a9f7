import { type FileHandle, open } from "node:fs/promises";
import { bytesPerElement, type FloatDType } from "./dtype.js";

/** A tensor to be written: its name, encoding and PyTorch-order shape. */
export interface TensorSpec {
  name: string;
  dtype: FloatDType;
  shape: readonly number[];
}

/** Byte length of a tensor's data. */
export function tensorByteLength(spec: TensorSpec): number {
  return spec.shape.reduce((n, d) => n * d, 1) * bytesPerElement(spec.dtype);
}

/**
 * Writes a safetensors file tensor by tensor: the header (which holds every offset) is written
 * first from the specs, then each tensor's bytes in spec order. Peak memory is one tensor.
 * Write to a temporary path and rename it (see `writeAtomically`).
 *
 * @example
 * const writer = await SafetensorsWriter.create(tmp, [{ name: "w", dtype: "F32", shape: [2, 2] }]);
 * await writer.write("w", encodeFloats(new Float32Array([1, 2, 3, 4]), "F32"));
 * await writer.close();
 */
export class SafetensorsWriter {
  private next = 0;
  private position: number;

  private constructor(
    private readonly handle: FileHandle,
    private readonly specs: readonly TensorSpec[],
    dataStart: number,
  ) {
    this.position = dataStart;
  }

  /** Creates the file and writes its header. */
  static async create(
    path: string,
    specs: readonly TensorSpec[],
    metadata: Readonly<Record<string, string>> = {},
  ): Promise<SafetensorsWriter> {
    const header: Record<string, unknown> = {};
    if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
    let offset = 0;
    for (const spec of specs) {
      const end = offset + tensorByteLength(spec);
      header[spec.name] = { dtype: spec.dtype, shape: spec.shape, data_offsets: [offset, end] };
      offset = end;
    }
    let json = Buffer.from(JSON.stringify(header), "utf8");
    // Pad with spaces so that tensor data starts 8-byte aligned, as the reference writer does.
    const padding = (8 - (json.length % 8)) % 8;
    if (padding > 0) json = Buffer.concat([json, Buffer.alloc(padding, 0x20)]);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    const handle = await open(path, "wx");
    try {
      await handle.write(Buffer.concat([prefix, json]), 0, 8 + json.length, 0);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return new SafetensorsWriter(handle, specs, 8 + json.length);
  }

  /** Writes the next tensor; names must come in spec order with the declared byte length. */
  async write(name: string, bytes: Uint8Array): Promise<void> {
    const spec = this.specs[this.next];
    if (!spec || spec.name !== name) {
      throw new Error(`safetensors writer: expected tensor "${spec?.name ?? "(none)"}", got "${name}"`);
    }
    if (bytes.byteLength !== tensorByteLength(spec)) {
      throw new Error(
        `safetensors writer: "${name}" needs ${tensorByteLength(spec)} bytes, got ${bytes.byteLength}`,
      );
    }
    let done = 0;
    while (done < bytes.byteLength) {
      const { bytesWritten } = await this.handle.write(
        bytes,
        done,
        bytes.byteLength - done,
        this.position + done,
      );
      done += bytesWritten;
    }
    this.position += bytes.byteLength;
    this.next += 1;
  }

  /** Closes the file; throws when some declared tensors were not written. */
  async close(): Promise<void> {
    await this.handle.close();
    if (this.next !== this.specs.length) {
      throw new Error(
        `safetensors writer: ${this.specs.length - this.next} declared tensors were not written`,
      );
    }
  }

  /** Closes the file without checking (after an error; the caller removes the file). */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}
