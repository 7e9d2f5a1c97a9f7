import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import type {
  ChatWrapper,
  Llama,
  LlamaChat,
  LlamaContext,
  LlamaGrammar,
  LlamaModel,
  Token,
} from "node-llama-cpp";
import type {
  ChatCallOptions,
  ChatChunk,
  ChatProvider,
  ChatProviderCapabilities,
  ChatRequest,
  ExpertSetUpdate,
  FinishReason,
  GenerationTarget,
  ProviderExpertReload,
  ResponseFormat,
} from "../../core/chat.js";
import {
  AbortError,
  ExpertsNotServedError,
  FileFormatError,
  HerdError,
  InvalidInputError,
  ProviderResponseError,
  UnknownExpertError,
} from "../../core/errors.js";
import { type GgufHeader, ggufString, readGgufHeader } from "../gguf/index.js";
import { validateLoraAdapter } from "./adapter-validation.js";
import { repeatPenalty, toHistory, toolMode } from "./chat-tools.js";
import { ContextPool } from "./context-pool.js";
import { checkJsonSchemaLimits } from "./json-schema-limits.js";
import { defaultThreads, loadNodeLlamaCpp, type NodeLlamaCpp } from "./load-node-llama-cpp.js";
import { PushIterator } from "./push-iterator.js";
import { scoreTokens } from "./token-logprobs.js";
import { ToolOutput } from "./tool-output.js";

/** Settings of {@link LlamaCppChatProvider}. */
export interface LlamaCppChatProviderOptions {
  /** The base model, a GGUF file. */
  modelPath: string;
  /**
   * Expert name to GGUF LoRA file. Name files by content (llama.cpp caches adapters by path for
   * the model's lifetime). See `ggufAdaptersFromExperts` to derive this from experts.json.
   * @default {}
   */
  adapters?: Readonly<Record<string, string>>;
  /** Threads per context. @default 1 on machines with up to 2 cores, else cores - 1 */
  threads?: number;
  /** Context size in tokens. @default the model's training context, at most 4096 */
  contextSize?: number;
  /**
   * Most contexts, one per adapter set (each holds a KV cache). A hard cap: a new adapter set
   * evicts the least recently used idle context, or waits while all are busy. @default 4
   */
  maxContexts?: number;
  /** A Jinja chat template that overrides the model's. */
  chatTemplate?: string;
  /**
   * A node-llama-cpp chat wrapper that overrides both the model's template and `chatTemplate`.
   * Without either, the model's template is used, or node-llama-cpp's GeneralChatWrapper when the
   * model has none.
   */
  chatWrapper?: ChatWrapper;
  /**
   * Adapter scales are rounded to this step, so routing weights that differ in the last digits
   * share one cached context. 0 keeps them exact. @default 0.01
   */
  scaleStep?: number;
  /**
   * Keep the context's tokens between requests and reuse a shared prefix (faster multi-turn chats).
   * Off by default so a request's output never depends on earlier requests. @default false
   */
  reusePrefix?: boolean;
  /** A node-llama-cpp `Llama` to share (e.g. with `LlamaCppEmbedder`); not disposed by `close()`. */
  llama?: Llama;
  /** The registry name. @default "llamacpp" */
  name?: string;
}

/** One cached context: its only sequence, wrapped for chat. */
interface PooledContext {
  context: LlamaContext;
  chat: LlamaChat;
}

/** The loaded runtime. */
interface Runtime {
  lib: NodeLlamaCpp;
  llama: Llama;
  model: LlamaModel;
  chatWrapper: ChatWrapper;
  contextSize: number;
  threads: number;
  pool: ContextPool<PooledContext>;
  grammars: Map<string, Promise<LlamaGrammar>>;
}

/** An adapter file and its scale in a context. */
interface AdapterScale {
  filePath: string;
  scale: number;
}

const MAX_CACHED_GRAMMARS = 32;

/**
 * Runs one GGUF base model with GGUF LoRA experts in process (node-llama-cpp, an optional peer).
 * Blends are native: each expert's adapter is applied with its routing weight as the scale, in a
 * context cached per adapter set. Requests on the same adapter set queue; different sets run in
 * separate contexts.
 * @example
 * const provider = new LlamaCppChatProvider({ modelPath: "base.gguf", adapters: { code: "code.gguf" } });
 * const target = { model: "base", base: false, adapters: [{ expert: "code", scale: 1 }] };
 * for await (const chunk of provider.stream({ target, messages: [{ role: "user", content: "Hi" }], params: {} })) {
 *   if (chunk.type === "text") process.stdout.write(chunk.text);
 * }
 * await provider.close();
 */
export class LlamaCppChatProvider implements ChatProvider {
  readonly name: string;
  readonly capabilities: ChatProviderCapabilities = {
    nativeBlend: true,
    tools: true,
    jsonSchema: true,
    forcedToolChoice: true,
    // Scored after generation (token-logprobs.ts): with logprobs the text arrives in one chunk at the end.
    logprobs: true,
  };
  private readonly adapterPaths: ReadonlyMap<string, string>;
  private runtime: Promise<Runtime> | undefined;
  private closed = false;

  constructor(private readonly options: LlamaCppChatProviderOptions) {
    this.name = options.name ?? "llamacpp";
    this.adapterPaths = new Map(
      Object.entries(options.adapters ?? {}).map(([expert, p]) => [expert, resolve(p)]),
    );
  }

  /** Streams the answer: text chunks as llama.cpp produces them, then one finish chunk. */
  async *stream(request: ChatRequest, options: ChatCallOptions = {}): AsyncGenerator<ChatChunk> {
    const { signal } = options;
    throwIfAborted(signal);
    checkRequest(request);
    checkJsonSchemaLimits(request.responseFormat);
    const rt = await this.load();
    const adapters = this.adapterSet(request.target);
    const mode = toolMode(request);
    const grammar = await this.grammarFor(
      rt,
      mode.kind === "forced" || mode.kind === "forcedOne"
        ? { type: "json_schema", schema: mode.schema }
        : request.responseFormat,
    );
    // Building a grammar cannot be interrupted; a client that left meanwhile gets no generation.
    throwIfAborted(signal);
    const lease = await rt.pool.acquire(contextKey(adapters), signal);
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const chunks = new PushIterator<ChatChunk>();
    const output = new ToolOutput(mode, chunks);
    let finished = false;
    const { chat } = lease.value;
    const generation = (async () => {
      if (!this.options.reusePrefix) await chat.sequence.clearHistory();
      const history = toHistory(request.messages);
      const functions = mode.kind === "auto" ? mode.functions : undefined;
      const promptTokens = chat.chatWrapper
        .generateContextState({ chatHistory: history, availableFunctions: functions })
        .contextText.tokenize(rt.model.tokenizer);
      const inputTokens = promptTokens.length;
      const p = request.params;
      const meter = chat.sequence.tokenMeter.getState();
      const common = {
        signal: stop.signal,
        stopOnAbortSignal: true,
        maxTokens: p.maxTokens ?? Math.max(1, rt.contextSize - inputTokens),
        temperature: p.temperature,
        topK: p.topK,
        topP: p.topP,
        seed: p.seed,
        repeatPenalty: repeatPenalty(p),
        customStopTriggers: p.stop?.filter((s) => s.length > 0),
      };
      const scoring = p.logprobs === true && mode.kind === "none";
      const generated: Token[] = [];
      const heldText: string[] = [];
      const onTextChunk = (text: string) => (scoring ? heldText.push(text) : output.onText(text));
      const result = functions
        ? await chat.generateResponse(history, {
            ...common,
            onTextChunk,
            functions,
            ...(mode.kind === "auto" && mode.maxParallel
              ? { maxParallelFunctionCalls: mode.maxParallel }
              : {}),
            onFunctionCallParamsChunk: (chunk) => output.onParamsChunk(chunk),
          })
        : await chat.generateResponse(history, {
            ...common,
            onTextChunk,
            grammar,
            ...(scoring ? { onToken: (tokens: Token[]) => generated.push(...tokens) } : {}),
          });
      const stopReason = result.metadata.stopReason;
      output.finish(stopReason === "maxTokens", result.functionCalls ?? []);
      const { usedOutputTokens: outputTokens } = chat.sequence.tokenMeter.diff(meter);
      if (scoring) {
        const logprobs = await scoreTokens(
          chat.sequence,
          rt.model,
          promptTokens,
          generated,
          p.topLogprobs ?? 0,
          stop.signal,
        );
        const text = heldText.join("");
        // Tokens of a matched stop sequence were generated but are not part of the text.
        let length = 0;
        const shown = logprobs.filter((entry) => {
          const keep = length < text.length;
          length += entry.token.length;
          return keep;
        });
        chunks.push({ type: "text", text, logprobs: shown });
      }
      return { stopReason, inputTokens, outputTokens };
    })();
    generation.then(
      () => chunks.end(),
      (error: unknown) => chunks.fail(error),
    );
    try {
      for await (const chunk of chunks) {
        if (chunk.type !== "text" || chunk.text.length > 0) yield chunk;
      }
      const { stopReason, inputTokens, outputTokens } = await generation;
      throwIfAborted(signal);
      finished = true;
      const finishReason: FinishReason =
        stopReason === "maxTokens" ? "length" : output.calls > 0 ? "tool_calls" : "stop";
      yield { type: "finish", finishReason, usage: { inputTokens, outputTokens } };
    } catch (error) {
      throwIfAborted(signal);
      if (HerdError.isInstance(error)) throw error;
      if (
        /does not fit the context size|did not return a history that fits/i.test((error as Error).message)
      ) {
        throw new InvalidInputError(
          `The conversation${mode.kind === "auto" ? " and the tool descriptions" : ""} do not fit llama.cpp's context of ${rt.contextSize} tokens. ` +
            "Shorten the conversation, send fewer tools, or raise the provider's contextSize.",
          "messages",
          { cause: error, code: "context_length_exceeded" },
        );
      }
      throw new ProviderResponseError(
        `llama.cpp generation failed: ${(error as Error).message}`,
        undefined,
        undefined,
        {
          cause: error,
        },
      );
    } finally {
      signal?.removeEventListener("abort", onAbort);
      // The consumer stopped early (or failed): stop llama.cpp before handing the context on.
      if (!finished) stop.abort();
      await generation.catch(() => {});
      lease.release();
    }
  }

  /**
   * The next-token probability distribution after `text` (raw text, no chat template) with the
   * given adapters and scales: token id to probability. For checking blends and adapters.
   */
  async nextTokenProbabilities(
    adapters: GenerationTarget["adapters"],
    text: string,
    options: ChatCallOptions = {},
  ): Promise<Map<number, number>> {
    const rt = await this.load();
    const set = this.adapterSet({ model: "", base: adapters.length === 0, adapters });
    const lease = await rt.pool.acquire(contextKey(set), options.signal);
    try {
      const sequence = lease.value.chat.sequence;
      await sequence.clearHistory();
      const tokens = rt.model.tokenize(text);
      if (tokens.length === 0) throw new InvalidInputError("Cannot evaluate an empty text.", "text");
      const last = tokens[tokens.length - 1]!;
      const results = await sequence.controlledEvaluate([
        ...tokens.slice(0, -1),
        [last, { generateNext: { probabilities: true } }],
      ]);
      const probabilities = results[results.length - 1]?.next?.probabilities;
      if (!probabilities) throw new ProviderResponseError("llama.cpp returned no probabilities.");
      await sequence.clearHistory();
      return probabilities;
    } finally {
      lease.release();
    }
  }

  /**
   * A reload of the experts: adapters are loaded with the model at start-up, so an expert that is new
   * or has another adapter file is refused (ExpertsNotServedError: restart herd serve). Removals and
   * changes that keep the adapter (examples, description) go through.
   */
  async reloadExperts({ current, next }: ExpertSetUpdate): Promise<ProviderExpertReload> {
    const adapters = new Map(current.experts.map((e) => [e.name, e.adapter]));
    const unknown = next.experts
      .filter((e) => !this.adapterPaths.has(e.name) || adapters.get(e.name) !== e.adapter)
      .map((e) => e.name);
    if (unknown.length > 0) {
      throw new ExpertsNotServedError(
        unknown,
        `The in-process llama.cpp provider loads its adapters at start-up, so it cannot serve ${unknown.map((e) => `"${e}"`).join(", ")} (new, or another adapter file) yet. The experts are unchanged: restart herd serve to serve them.`,
      );
    }
    return { warnings: [], commit: () => {} };
  }

  /** Loads the model (and validates the adapters) if needed. Throws the load error when it fails. */
  async health(): Promise<void> {
    await this.load();
  }

  /** Disposes the contexts, the model and (when this provider created it) the llama runtime. */
  async close(): Promise<void> {
    this.closed = true;
    const runtime = this.runtime;
    this.runtime = undefined;
    const rt = await runtime?.catch(() => undefined);
    if (!rt) return;
    await rt.pool.close();
    await rt.model.dispose();
    if (!this.options.llama) await rt.llama.dispose();
  }

  private load(): Promise<Runtime> {
    if (this.closed) return Promise.reject(new InvalidInputError("The llamacpp chat provider is closed."));
    if (!this.runtime) {
      this.runtime = this.loadRuntime();
      // A failed load is retried on the next call (the user may fix the file meanwhile).
      this.runtime.catch(() => {
        this.runtime = undefined;
      });
    }
    return this.runtime;
  }

  /** Validates every expert's adapter and reports all the broken ones in one error, by expert. */
  private async validateAdapters(modelPath: string, header: GgufHeader): Promise<void> {
    const problems: string[] = [];
    const checked = new Map<string, string | undefined>();
    for (const [expert, path] of this.adapterPaths) {
      if (!checked.has(path)) {
        checked.set(
          path,
          await validateLoraAdapter(path, header).then(
            () => undefined,
            (error: unknown) => (error as Error).message,
          ),
        );
      }
      const problem = checked.get(path);
      if (problem) problems.push(`expert "${expert}": ${problem.replace(/\.\s*$/, "")}`);
    }
    if (problems.length === 0) return;
    throw new FileFormatError(
      `${problems.length} of ${this.adapterPaths.size} expert adapters cannot be used with "${modelPath}": ` +
        `${problems.join("; ")}. Fix each expert's "adapter" in experts.json (relative to the experts folder); ` +
        "a PEFT adapter converts to GGUF with `herd merge --base <model.gguf> --out <adapter.gguf> <peft folder>`.",
      [...checked.entries()].find(([, p]) => p)?.[0],
    );
  }

  private async loadRuntime(): Promise<Runtime> {
    const modelPath = resolve(this.options.modelPath);
    await assertModelFile(modelPath);
    const header = await readGgufHeader(modelPath);
    if (ggufString(header, "general.type") === "adapter") {
      throw new FileFormatError(
        `"${modelPath}" is a LoRA adapter, not a model. Pass the base model as modelPath and the adapter under adapters.`,
        modelPath,
      );
    }
    assertModelMetadata(header);
    await this.validateAdapters(modelPath, header);

    const lib = await loadNodeLlamaCpp("The llamacpp chat provider");
    const threads = this.options.threads ?? defaultThreads(availableParallelism());
    const llama =
      this.options.llama ?? (await lib.getLlama({ gpu: false, build: "never", maxThreads: threads }));
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath });
    } catch (error) {
      if (!this.options.llama) await llama.dispose();
      throw new FileFormatError(
        `llama.cpp could not load the model "${modelPath}": ${(error as Error).message}`,
        modelPath,
        {
          cause: error,
        },
      );
    }
    const contextSize = this.options.contextSize ?? Math.min(model.trainContextSize, 4096);
    const chatWrapper = this.resolveChatWrapper(lib, model, header);
    const pool = new ContextPool<PooledContext>({
      maxSize: this.options.maxContexts ?? 4,
      create: (key) =>
        createPooledContext(lib, model, chatWrapper, contextSize, threads, parseContextKey(key)),
      dispose: async ({ chat, context }) => {
        chat.dispose();
        await context.dispose();
      },
    });
    return { lib, llama, model, chatWrapper, contextSize, threads, pool, grammars: new Map() };
  }

  private resolveChatWrapper(lib: NodeLlamaCpp, model: LlamaModel, header: GgufHeader): ChatWrapper {
    if (this.options.chatWrapper) return this.options.chatWrapper;
    if (this.options.chatTemplate)
      return new lib.JinjaTemplateChatWrapper({ template: this.options.chatTemplate });
    if (ggufString(header, "tokenizer.chat_template")) return lib.resolveChatWrapper(model);
    return new lib.GeneralChatWrapper();
  }

  /** Adapter files and scales for a target: scales summed per file, rounded, zeros dropped, sorted. */
  private adapterSet(target: GenerationTarget): AdapterScale[] {
    if (target.base) return [];
    const step = this.options.scaleStep ?? 0.01;
    const byPath = new Map<string, number>();
    for (const { expert, scale } of target.adapters) {
      const path = this.adapterPaths.get(expert);
      if (path === undefined) throw new UnknownExpertError(expert, [...this.adapterPaths.keys()]);
      if (!Number.isFinite(scale))
        throw new InvalidInputError(`Adapter scale for "${expert}" is ${scale}.`, "scale");
      byPath.set(path, (byPath.get(path) ?? 0) + scale);
    }
    return [...byPath]
      .map(([filePath, scale]) => ({ filePath, scale: step > 0 ? Math.round(scale / step) * step : scale }))
      .map((a) => ({ ...a, scale: Number(a.scale.toFixed(10)) }))
      .filter((a) => a.scale !== 0)
      .sort((a, b) => (a.filePath < b.filePath ? -1 : 1));
  }

  private async grammarFor(
    rt: Runtime,
    format: ResponseFormat | undefined,
  ): Promise<LlamaGrammar | undefined> {
    if (!format || format.type === "text") return undefined;
    const key = format.type === "json" ? "json" : JSON.stringify(format.schema);
    let grammar = rt.grammars.get(key);
    if (!grammar) {
      grammar =
        format.type === "json"
          ? rt.llama.getGrammarFor("json")
          : rt.llama.createGrammarForJsonSchema(
              format.schema as Parameters<Llama["createGrammarForJsonSchema"]>[0],
            );
      if (rt.grammars.size >= MAX_CACHED_GRAMMARS) rt.grammars.delete(rt.grammars.keys().next().value!);
      rt.grammars.set(key, grammar);
      grammar.catch(() => rt.grammars.delete(key));
    }
    try {
      return await grammar;
    } catch (error) {
      throw new InvalidInputError(
        `The JSON schema cannot be turned into a llama.cpp grammar: ${(error as Error).message}`,
        "response_format",
        { cause: error },
      );
    }
  }
}

async function assertModelFile(modelPath: string): Promise<void> {
  const info = await stat(modelPath).catch(() => undefined);
  if (!info?.isFile()) {
    throw new FileFormatError(
      `Model file "${modelPath}" ${info ? "is not a file" : "does not exist"}. Point modelPath at a GGUF model (herd serve --demo generates a tiny one).`,
      modelPath,
    );
  }
}

/** Keys whose absence makes llama.cpp abort the whole process (GGML_ASSERT) instead of throwing. */
const REQUIRED_LLAMA_KEYS = [
  "llama.context_length",
  "llama.embedding_length",
  "llama.block_count",
  "llama.feed_forward_length",
  "llama.attention.head_count",
];

function assertModelMetadata(header: GgufHeader): void {
  const architecture = ggufString(header, "general.architecture");
  const missing =
    architecture === undefined
      ? ["general.architecture"]
      : architecture === "llama"
        ? REQUIRED_LLAMA_KEYS.filter((key) => !header.metadata.has(key))
        : [];
  if (missing.length > 0) {
    throw new FileFormatError(
      `Model "${header.path}" lacks metadata ${missing.join(", ")}; llama.cpp cannot load it. Re-convert the model with a recent llama.cpp.`,
      header.path,
    );
  }
}

async function createPooledContext(
  lib: NodeLlamaCpp,
  model: LlamaModel,
  chatWrapper: ChatWrapper,
  contextSize: number,
  threads: number,
  adapters: AdapterScale[],
): Promise<PooledContext> {
  let context: LlamaContext;
  try {
    context = await model.createContext({
      contextSize,
      threads,
      sequences: 1,
      ...(adapters.length > 0 ? { lora: { adapters } } : {}),
    });
  } catch (error) {
    const files = adapters.map((a) => a.filePath).join(", ");
    throw new FileFormatError(
      `llama.cpp could not create a context${files ? ` with adapters ${files}` : ""}: ${(error as Error).message}`,
      adapters[0]?.filePath,
      { cause: error },
    );
  }
  return { context, chat: new lib.LlamaChat({ contextSequence: context.getSequence(), chatWrapper }) };
}

function contextKey(adapters: AdapterScale[]): string {
  return JSON.stringify(adapters.map((a) => [a.filePath, a.scale]));
}

function parseContextKey(key: string): AdapterScale[] {
  return (JSON.parse(key) as [string, number][]).map(([filePath, scale]) => ({ filePath, scale }));
}

function checkRequest(request: ChatRequest): void {
  if (request.messages.length === 0)
    throw new InvalidInputError("At least one message is needed.", "messages");
  const { maxTokens } = request.params;
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens >= 1)) {
    throw new InvalidInputError(`maxTokens must be an integer >= 1, got ${maxTokens}.`, "params.maxTokens");
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError("The llama.cpp generation was aborted.");
}
