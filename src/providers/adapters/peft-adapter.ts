import { join } from "node:path";
import { FileFormatError } from "../../core/errors.js";
import { bytesPerElement, decodeFloats, type FloatDType, isFloatDType } from "./dtype.js";
import type { LoraAdapter, LoraModule } from "./lora-adapter.js";
import { matchModulePattern, type PeftLoraConfig, readPeftConfig } from "./peft-config.js";
import { SafetensorsFile, type SafetensorsTensorInfo } from "./safetensors-file.js";

/** The file names inside a PEFT adapter folder. */
export const PEFT_CONFIG_FILE = "adapter_config.json";
export const PEFT_WEIGHTS_FILE = "adapter_model.safetensors";

/** PEFT saves tensor names under this prefix (the PeftModel wrapping the base model). */
export const PEFT_PREFIX = "base_model.model.";

const TENSOR_NAME = /^(.*)\.lora_([AB])\.weight$/;

function unsupported(path: string, name: string): FileFormatError {
  const what = /lora_embedding_|lora_magnitude_vector|modules_to_save/.test(name)
    ? "embedding LoRA, DoRA and modules_to_save tensors cannot be merged linearly"
    : "Herd reads only `<module>.lora_A.weight` and `<module>.lora_B.weight` tensors";
  return new FileFormatError(`PEFT adapter "${path}" has tensor "${name}": ${what}.`, path);
}

function floatDType(path: string, info: SafetensorsTensorInfo): FloatDType {
  if (isFloatDType(info.dtype)) return info.dtype;
  throw new FileFormatError(
    `Tensor "${info.name}" in PEFT adapter "${path}" is ${info.dtype}; Herd reads F32, F16 and BF16 adapters ` +
      "(quantized QLoRA weights must be saved unquantized).",
    path,
  );
}

/**
 * A PEFT LoRA adapter folder opened for reading. The scale of each module is
 * lora_alpha / r, or lora_alpha / sqrt(r) with `use_rslora`, using `rank_pattern`/`alpha_pattern`
 * where they match; shapes are checked against r.
 */
export class PeftAdapter implements LoraAdapter {
  readonly format = "peft" as const;
  readonly architecture = undefined;
  readonly baseModel: string | undefined;
  private readonly byName: Map<string, LoraModule>;

  private constructor(
    readonly path: string,
    readonly config: PeftLoraConfig,
    private readonly weights: SafetensorsFile,
    readonly modules: readonly LoraModule[],
  ) {
    this.baseModel = config.base_model_name_or_path ?? undefined;
    this.byName = new Map(modules.map((m) => [m.name, m]));
  }

  /** Opens a PEFT folder; throws FileFormatError naming the folder or file on any inconsistency. */
  static async open(path: string): Promise<PeftAdapter> {
    const config = await readPeftConfig(join(path, PEFT_CONFIG_FILE));
    const weightsPath = join(path, PEFT_WEIGHTS_FILE);
    const weights = await SafetensorsFile.open(weightsPath);
    try {
      return new PeftAdapter(path, config, weights, PeftAdapter.modulesOf(weightsPath, config, weights));
    } catch (error) {
      await weights.close();
      throw error;
    }
  }

  private static modulesOf(path: string, config: PeftLoraConfig, weights: SafetensorsFile): LoraModule[] {
    const pairs = new Map<string, { a?: SafetensorsTensorInfo; b?: SafetensorsTensorInfo }>();
    for (const info of weights.tensors.values()) {
      const match = TENSOR_NAME.exec(info.name);
      if (!match) throw unsupported(path, info.name);
      const module = match[1]!.startsWith(PEFT_PREFIX) ? match[1]!.slice(PEFT_PREFIX.length) : match[1]!;
      const pair = pairs.get(module) ?? {};
      if (match[2] === "A") pair.a = info;
      else pair.b = info;
      pairs.set(module, pair);
    }
    const modules: LoraModule[] = [];
    for (const [name, { a, b }] of pairs) {
      if (!a || !b) {
        throw new FileFormatError(
          `PEFT adapter "${path}": module "${name}" has lora_${a ? "A" : "B"} but no lora_${a ? "B" : "A"}.`,
          path,
        );
      }
      if (a.shape.length !== 2 || b.shape.length !== 2) {
        throw new FileFormatError(
          `PEFT adapter "${path}": module "${name}" has lora_A [${a.shape}] and lora_B [${b.shape}]; both must be 2-D.`,
          path,
        );
      }
      const [rank, inFeatures] = a.shape as [number, number];
      const [outFeatures, rankB] = b.shape as [number, number];
      const configRank = matchModulePattern(config.rank_pattern, name) ?? config.r;
      if (rank !== rankB || rank !== configRank) {
        throw new FileFormatError(
          `PEFT adapter "${path}": module "${name}" has lora_A [${a.shape}] and lora_B [${b.shape}], which do not ` +
            `match rank r=${configRank} from adapter_config.json. The adapter is damaged or the config belongs to another adapter.`,
          path,
        );
      }
      const alpha = matchModulePattern(config.alpha_pattern, name) ?? config.lora_alpha;
      const scale = config.use_rslora ? alpha / Math.sqrt(rank) : alpha / rank;
      modules.push({
        name,
        rank,
        inFeatures,
        outFeatures,
        scale,
        dtypeA: floatDType(path, a),
        dtypeB: floatDType(path, b),
      });
    }
    return modules;
  }

  module(name: string): LoraModule | undefined {
    return this.byName.get(name);
  }

  private async read(name: string, which: "A" | "B"): Promise<Float32Array> {
    const module = this.byName.get(name);
    if (!module) throw new FileFormatError(`PEFT adapter "${this.path}" has no module "${name}".`, this.path);
    const tensor = `${PEFT_PREFIX}${name}.lora_${which}.weight`;
    const dtype = which === "A" ? module.dtypeA : module.dtypeB;
    const info = this.weights.tensors.get(tensor) ?? this.weights.info(`${name}.lora_${which}.weight`);
    const bytes = await this.weights.readBytes(info.name);
    return decodeFloats(bytes, dtype, info.byteLength / bytesPerElement(dtype));
  }

  readA(name: string): Promise<Float32Array> {
    return this.read(name, "A");
  }

  readB(name: string): Promise<Float32Array> {
    return this.read(name, "B");
  }

  close(): Promise<void> {
    return this.weights.close();
  }
}
