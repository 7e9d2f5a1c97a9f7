/** One fine-tuned expert: a LoRA adapter on the shared base model, and the prompts it is good at. */
export interface Expert {
  /** Unique name, lowercase letters, digits, `-` and `_` (e.g. `code`). */
  name: string;
  /** One sentence on what the expert is for. */
  description: string;
  /** The airoboros categories (or your own labels) this expert covers. */
  categories: string[];
  /** The adapter: a GGUF LoRA file or a PEFT directory, relative to the experts folder. */
  adapter: string;
  /** The model name on name-selecting backends (an Ollama tag such as `herd-code`, a vLLM LoRA name). */
  model: string;
  /** Example prompts used to build the expert's centroid (and the knn strategy). */
  examples: string[];
}

/** The expert set plus the base model every expert shares. */
export interface ExpertSet {
  /** The base model (Ollama tag, GGUF file or served model name) used when no expert applies. */
  baseModel: string;
  experts: Expert[];
}
