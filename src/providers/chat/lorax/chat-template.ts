import { readFile } from "node:fs/promises";
import { Template } from "@huggingface/jinja";
import type { ChatMessage } from "../../../core/chat.js";
import { ConfigError, InvalidInputError } from "../../../core/errors.js";

/** A chat template and the special tokens it refers to (from a model's tokenizer_config.json). */
export interface ChatTemplateSource {
  /** The Jinja template text (HF `chat_template`). */
  template: string;
  bosToken?: string;
  eosToken?: string;
}

const tokenText = (v: unknown): string | undefined =>
  typeof v === "string"
    ? v
    : typeof v === "object" && v !== null && typeof (v as { content?: unknown }).content === "string"
      ? (v as { content: string }).content
      : undefined;

/**
 * Reads `chat_template`, `bos_token` and `eos_token` from a Hugging Face tokenizer_config.json. A
 * template list (`[{name, template}]`) uses the one named `default`.
 * @throws ConfigError naming the file when it cannot be read or has no chat template
 */
export async function readTokenizerConfig(path: string): Promise<ChatTemplateSource> {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(
      `Cannot read the tokenizer config ${path}: ${(error as Error).message}. Point provider.tokenizerConfig at the base model's tokenizer_config.json, or set provider.chatTemplate.`,
      "provider.tokenizerConfig",
      { cause: error },
    );
  }
  let template = Object.hasOwn(data, "chat_template") ? data.chat_template : undefined;
  if (Array.isArray(template)) {
    const named = template.find((t) => (t as { name?: unknown })?.name === "default") ?? template[0];
    template = (named as { template?: unknown } | undefined)?.template;
  }
  if (typeof template !== "string" || template === "") {
    throw new ConfigError(
      `${path} has no chat_template; set provider.chatTemplate to the model's chat template.`,
      "provider.tokenizerConfig",
    );
  }
  return { template, bosToken: tokenText(data.bos_token), eosToken: tokenText(data.eos_token) };
}

/**
 * A parsed HF chat template (rendered by `@huggingface/jinja`, the implementation made for these
 * templates), turning messages into the prompt text a native /generate endpoint takes.
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(private readonly source: ChatTemplateSource) {
    try {
      this.template = new Template(source.template);
    } catch (error) {
      throw new ConfigError(
        `The chat template does not parse: ${(error as Error).message}. Check provider.chatTemplate or the tokenizer config.`,
        "provider.chatTemplate",
        { cause: error },
      );
    }
  }

  /** The prompt for `messages`, ending with the assistant's turn (`add_generation_prompt`). */
  render(messages: readonly ChatMessage[]): string {
    try {
      return this.template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: true,
        bos_token: this.source.bosToken ?? "",
        eos_token: this.source.eosToken ?? "",
      });
    } catch (error) {
      throw new InvalidInputError(
        `The model's chat template refused these messages: ${(error as Error).message}`,
        "messages",
        { cause: error },
      );
    }
  }
}
