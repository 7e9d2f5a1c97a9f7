import { type FileHandle, open } from "node:fs/promises";
import { FileFormatError } from "../../core/errors.js";
import {
  GgmlType,
  type GgufHeader,
  type GgufTensorInfo,
  ggmlTypeName,
  ggufNumber,
  ggufString,
  readGgufHeader,
} from "../gguf/index.js";
import { decodeFloats, type FloatDType } from "./dtype.js";
import type { LoraAdapter, LoraModule } from "./lora-adapter.js";

/** GGUF tensor name suffixes of LoRA matrices (llama.cpp src/llama-adapter.cpp). */
export const GGUF_LORA_A = ".lora_a";
export const GGUF_LORA_B = ".lora_b";

/** The ggml type code of a float encoding, and back. */
export const GGML_FLOAT_TYPES: Readonly<Record<FloatDType, number>> = {
  F32: GgmlType.F32,
  F16: GgmlType.F16,
  BF16: GgmlType.BF16,
};

function floatDType(header: GgufHeader, info: GgufTensorInfo): FloatDType {
  if (info.type === GgmlType.F32) return "F32";
  if (info.type === GgmlType.F16) return "F16";
  if (info.type === GgmlType.BF16) return "BF16";
  throw new FileFormatError(
    `Tensor "${info.name}" in GGUF adapter "${header.path}" is ${ggmlTypeName(info.type)}; Herd merges F32, F16 and ` +
      "BF16 adapters. Convert the adapter with --outtype f16 (llama.cpp convert_lora_to_gguf.py).",
    header.path,
  );
}

function bad(header: GgufHeader, problem: string): FileFormatError {
  return new FileFormatError(`GGUF adapter "${header.path}": ${problem}`, header.path);
}

/**
 * A llama.cpp GGUF LoRA adapter opened for reading: `<tensor>.lora_a` has ne [in, rank] and
 * `<tensor>.lora_b` ne [rank, out]; the scale is alpha / rank per tensor, or 1 when
 * `adapter.lora.alpha` is 0 or absent (as llama.cpp applies it).
 */
export class GgufLoraAdapter implements LoraAdapter {
  readonly format = "gguf" as const;
  readonly baseModel = undefined;
  readonly architecture: string;
  /** `adapter.lora.alpha` (0 when absent). */
  readonly alpha: number;
  readonly modules: readonly LoraModule[];
  private readonly byName: Map<string, LoraModule & { a: GgufTensorInfo; b: GgufTensorInfo }>;

  private constructor(
    readonly header: GgufHeader,
    private readonly handle: FileHandle,
  ) {
    this.architecture = ggufString(header, "general.architecture") ?? "";
    this.alpha = ggufNumber(header, "adapter.lora.alpha") ?? 0;
    this.byName = GgufLoraAdapter.modulesOf(header, this.alpha);
    this.modules = [...this.byName.values()].map(({ a: _a, b: _b, ...module }) => module);
  }

  get path(): string {
    return this.header.path;
  }

  /** Opens a GGUF LoRA file; throws FileFormatError naming the file when it is not a valid LoRA adapter. */
  static async open(path: string): Promise<GgufLoraAdapter> {
    const header = await readGgufHeader(path);
    const type = ggufString(header, "general.type");
    if (type !== "adapter") {
      throw bad(
        header,
        `general.type is ${JSON.stringify(type ?? null)}, not "adapter": this is not a LoRA adapter (a base model?).`,
      );
    }
    const adapterType = ggufString(header, "adapter.type");
    if (adapterType !== "lora") {
      throw bad(
        header,
        `adapter.type is ${JSON.stringify(adapterType ?? null)}; Herd merges "lora" adapters only.`,
      );
    }
    if (!ggufString(header, "general.architecture")) {
      throw bad(
        header,
        "general.architecture is missing; llama.cpp cannot check the adapter against its base model.",
      );
    }
    const handle = await open(path, "r");
    try {
      return new GgufLoraAdapter(header, handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  private static modulesOf(header: GgufHeader, alpha: number) {
    const pairs = new Map<string, { a?: GgufTensorInfo; b?: GgufTensorInfo }>();
    for (const info of header.tensors) {
      const which = info.name.endsWith(GGUF_LORA_A) ? "a" : info.name.endsWith(GGUF_LORA_B) ? "b" : undefined;
      if (!which) throw bad(header, `tensor "${info.name}" is neither a .lora_a nor a .lora_b tensor.`);
      const name = info.name.slice(0, -GGUF_LORA_A.length);
      const pair = pairs.get(name) ?? {};
      pair[which] = info;
      pairs.set(name, pair);
    }
    const modules = new Map<string, LoraModule & { a: GgufTensorInfo; b: GgufTensorInfo }>();
    for (const [name, { a, b }] of pairs) {
      if (!a || !b)
        throw bad(header, `"${name}" has ${a ? "lora_a" : "lora_b"} but no ${a ? "lora_b" : "lora_a"}.`);
      if (a.dims.length !== 2 || b.dims.length !== 2 || a.dims[1] !== b.dims[0]) {
        throw bad(
          header,
          `"${name}" has lora_a ne [${a.dims}] and lora_b ne [${b.dims}]; expected [in, rank] and [rank, out] ` +
            "(adapters from the old llama.cpp finetune example are transposed and no longer supported).",
        );
      }
      const [inFeatures, rank] = a.dims as [number, number];
      const outFeatures = b.dims[1]!;
      const scale = alpha ? alpha / rank : 1;
      modules.set(name, {
        name,
        rank,
        inFeatures,
        outFeatures,
        scale,
        dtypeA: floatDType(header, a),
        dtypeB: floatDType(header, b),
        a,
        b,
      });
    }
    return modules;
  }

  module(name: string): LoraModule | undefined {
    return this.byName.get(name);
  }

  private async read(name: string, which: "a" | "b"): Promise<Float32Array> {
    const module = this.byName.get(name);
    if (!module) throw bad(this.header, `no module "${name}".`);
    const info = module[which];
    const length = info.byteLength ?? 0;
    const bytes = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(
        bytes,
        done,
        length - done,
        this.header.dataOffset + info.offset + done,
      );
      if (bytesRead === 0) throw bad(this.header, `the file is truncated inside tensor "${info.name}".`);
      done += bytesRead;
    }
    return decodeFloats(bytes, which === "a" ? module.dtypeA : module.dtypeB, info.elements);
  }

  readA(name: string): Promise<Float32Array> {
    return this.read(name, "a");
  }

  readB(name: string): Promise<Float32Array> {
    return this.read(name, "b");
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
