import { open, stat } from "node:fs/promises";
import { extname } from "node:path";
import { FileFormatError } from "../../core/errors.js";
import { GgufLoraAdapter } from "./gguf-lora-adapter.js";
import type { AdapterFormat, LoraAdapter } from "./lora-adapter.js";
import { PeftAdapter } from "./peft-adapter.js";

/**
 * The format of an adapter on disk: a folder is PEFT, a file starting with the GGUF magic is GGUF.
 * @throws FileFormatError naming the path when it is missing or neither
 */
export async function detectAdapterFormat(path: string): Promise<AdapterFormat> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new FileFormatError(
      error.code === "ENOENT"
        ? `Adapter "${path}" does not exist. Check the path (a GGUF LoRA file or a PEFT adapter folder).`
        : `Cannot read adapter "${path}": ${error.message}.`,
      path,
      { cause: error },
    );
  });
  if (info.isDirectory()) return "peft";
  const handle = await open(path, "r");
  try {
    const magic = Buffer.alloc(4);
    await handle.read(magic, 0, 4, 0);
    if (magic.toString("latin1") === "GGUF") return "gguf";
  } finally {
    await handle.close();
  }
  const hint =
    extname(path) === ".safetensors"
      ? "pass the PEFT folder that holds it and adapter_config.json, not the .safetensors file"
      : "expected a GGUF LoRA file or a PEFT adapter folder";
  throw new FileFormatError(`Adapter "${path}" is not a GGUF file: ${hint}.`, path);
}

/**
 * Opens a LoRA adapter of either format for streaming reads.
 * @example
 * const adapter = await openAdapter("experts/adapters/code.gguf");
 * for (const m of adapter.modules) console.log(m.name, m.rank);
 * await adapter.close();
 */
export async function openAdapter(path: string): Promise<LoraAdapter> {
  return (await detectAdapterFormat(path)) === "peft" ? PeftAdapter.open(path) : GgufLoraAdapter.open(path);
}
