import { InvalidInputError } from "../../core/errors.js";

/** A PARAMETER value; an array repeats the line (Ollama's way to give several `stop` sequences). */
export type ModelfileParameter = string | number | boolean | readonly (string | number)[];

/** The chat settings a base model may need in every Modelfile built on it. */
export interface ModelfileChatSettings {
  /** `TEMPLATE`: the Go chat template. Omit to inherit the template of a `FROM` model. */
  template?: string;
  /** `SYSTEM`: the default system prompt. */
  system?: string;
  /** `PARAMETER` lines, e.g. `{ temperature: 0.2, stop: ["<|eot_id|>"] }`. */
  parameters?: Readonly<Record<string, ModelfileParameter>>;
}

/** What one Modelfile says. */
export interface ModelfileSpec extends ModelfileChatSettings {
  /** `FROM`: a model name, or a GGUF file / safetensors folder relative to the Modelfile. */
  from: string;
  /** `ADAPTER`: one GGUF LoRA file or PEFT folder, relative to the Modelfile. */
  adapter?: string;
  /** `#` comment lines written at the top. */
  comments?: readonly string[];
}

function multiline(keyword: string, text: string): string {
  if (text.includes('"""')) {
    throw new InvalidInputError(
      `The Modelfile ${keyword} cannot contain three double quotes in a row.`,
      keyword,
    );
  }
  return `${keyword} """${text}"""`;
}

function parameterValue(name: string, value: string | number | boolean): string {
  if (typeof value !== "string") return String(value);
  if (/[\r\n]/.test(value)) throw new InvalidInputError(`PARAMETER ${name} cannot span lines.`, name);
  return /[\s"#]/.test(value) || value === "" ? JSON.stringify(value) : value;
}

/**
 * Renders a Modelfile (see ollama docs/modelfile.mdx): comments, FROM, ADAPTER, TEMPLATE, SYSTEM,
 * then PARAMETER lines in the given order. The output is deterministic (no dates), so that
 * committed Modelfiles only change when their inputs do.
 * @example
 * renderModelfile({ from: "llama3.2:3b", adapter: "../experts/adapters/code.gguf" });
 * // "FROM llama3.2:3b\nADAPTER ../experts/adapters/code.gguf\n"
 */
export function renderModelfile(spec: ModelfileSpec): string {
  const lines: string[] = [];
  for (const comment of spec.comments ?? []) lines.push(comment === "" ? "#" : `# ${comment}`);
  if (lines.length > 0) lines.push("");
  if (/[\r\n]/.test(spec.from)) throw new InvalidInputError("FROM cannot span lines.", "from");
  lines.push(`FROM ${spec.from}`);
  if (spec.adapter !== undefined) lines.push(`ADAPTER ${spec.adapter}`);
  if (spec.template !== undefined) lines.push(multiline("TEMPLATE", spec.template));
  if (spec.system !== undefined) lines.push(multiline("SYSTEM", spec.system));
  for (const [name, value] of Object.entries(spec.parameters ?? {})) {
    const values = Array.isArray(value) ? value : [value as string | number | boolean];
    for (const v of values) lines.push(`PARAMETER ${name} ${parameterValue(name, v)}`);
  }
  return `${lines.join("\n")}\n`;
}
