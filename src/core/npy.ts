import { FileFormatError } from "./errors.js";

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** A numeric array read from a .npy file. */
export interface NpyArray {
  shape: number[];
  data: Float32Array | Float64Array;
}

/**
 * Parses a NumPy .npy file (format 1.0-3.0) holding little-endian float32 or float64 in C order,
 * such as the centroids the original Python Herd saved.
 */
export function parseNpy(bytes: Uint8Array, file = "<buffer>"): NpyArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) {
    throw new FileFormatError(
      `${file} is not a .npy file (bad magic). Save centroids with numpy.save().`,
      file,
    );
  }
  const major = buf[6]!;
  const headerLenSize = major === 1 ? 2 : 4;
  if (major < 1 || major > 3) throw new FileFormatError(`${file}: unsupported .npy version ${major}.`, file);
  const headerLen = headerLenSize === 2 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const headerStart = 8 + headerLenSize;
  if (buf.length < headerStart + headerLen)
    throw new FileFormatError(`${file}: truncated .npy header.`, file);
  const header = buf.subarray(headerStart, headerStart + headerLen).toString("latin1");
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new FileFormatError(`${file}: malformed .npy header ${JSON.stringify(header.trim())}.`, file);
  }
  if (fortran === "True")
    throw new FileFormatError(`${file}: Fortran-ordered arrays are not supported.`, file);
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const width = descr === "<f4" ? 4 : descr === "<f8" ? 8 : 0;
  if (width === 0) {
    throw new FileFormatError(
      `${file}: dtype ${descr} is not supported; use float32 ('<f4') or float64 ('<f8').`,
      file,
    );
  }
  if (buf.length - dataStart !== count * width) {
    throw new FileFormatError(
      `${file}: expected ${count * width} data bytes for shape (${shape.join(", ")}), found ${buf.length - dataStart}.`,
      file,
    );
  }
  const raw = buf.subarray(dataStart);
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  const data = width === 4 ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer);
  return { shape, data };
}

/** Serializes a float32 vector or matrix as a .npy (version 1.0) file. */
export function formatNpy(data: Float32Array, shape: readonly number[] = [data.length]): Uint8Array {
  const shapeText = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shapeText}), }`;
  const unpadded = 10 + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const out = Buffer.alloc(10 + header.length + data.byteLength);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, "latin1");
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 10 + header.length);
  return out;
}
