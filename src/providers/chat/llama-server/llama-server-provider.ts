import type {
  ChatCallOptions,
  ChatChunk,
  ChatProvider,
  ChatProviderCapabilities,
  ChatRequest,
  ExpertSetUpdate,
  ProviderExpertReload,
} from "../../../core/chat.js";
import {
  BackendTimeoutError,
  ConfigError,
  ExpertsNotServedError,
  ModelNotFoundError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../../core/errors.js";
import type { ExpertSet } from "../../../core/expert.js";
import { changedExperts, uncheckedExpertsWarning } from "../../../core/expert-reload.js";
import { EngineClient, type EngineConnectionOptions } from "../../http/engine-client.js";
import { toOpenAIChatBody } from "../../http/openai-chat-body.js";
import { chatReplyOptions } from "../../http/openai-chat-stream.js";
import {
  type ExpertAdapterFile,
  expertAdapterFiles,
  type LoadedLora,
  matchAdapters,
  parseLoraAdapters,
} from "./lora-adapters.js";

/** Settings of {@link LlamaServerChatProvider}. */
export interface LlamaServerChatProviderOptions extends EngineConnectionOptions {
  /** The llama-server. @default env LLAMA_SERVER_URL, then "http://127.0.0.1:8080" */
  url?: string;
  /** Each expert's GGUF LoRA file, to find its id in GET /lora-adapters. @default [] */
  experts?: ExpertAdapterFile[];
  /** The experts folder: the adapter paths of experts given by a reload are relative to it. @default process.cwd() */
  expertsDir?: string;
  /** Where start-up notes go. @default console.warn */
  onWarning?: (message: string) => void;
}

/** The adapter ids an expert set maps to on one server. */
interface AdapterIds {
  loaded: LoadedLora[];
  byExpert: Map<string, number>;
}

/**
 * Generates with llama.cpp's `llama-server` through /v1/chat/completions, blending natively: the
 * routing weights become the per-request `lora: [{id, scale}]`, listing every loaded adapter (the
 * others at scale 0, so the server's global scales never leak in). Adapters are loaded only when the
 * server starts (`--lora FILE`, ids in command-line order); `prepare` reads GET /lora-adapters and
 * matches each expert's file, and refuses to start when one is missing, naming the `--lora` to add.
 * A reload of the experts (`reloadExperts`) matches the new set the same way.
 *
 * @example
 * const provider = new LlamaServerChatProvider({
 *   url: "http://127.0.0.1:8080",
 *   experts: [{ expert: "code", file: "/adapters/code.gguf" }],
 * });
 */
export class LlamaServerChatProvider implements ChatProvider {
  readonly name = "llama-server";
  /** llama-server enforces `tool_choice` "required" (a grammar, with --jinja) and returns logprobs. */
  readonly capabilities: ChatProviderCapabilities = {
    nativeBlend: true,
    tools: true,
    jsonSchema: true,
    forcedToolChoice: true,
    logprobs: true,
  };
  private readonly client: EngineClient;
  private ids: AdapterIds | undefined;
  /** The experts' adapter files: the start-up experts, then those of the last reload. */
  private experts: readonly ExpertAdapterFile[];
  /** Bumped when `experts` changes, so a read of the ids started before it does not overwrite newer ones. */
  private generation = 0;
  private readonly warn: (message: string) => void;

  constructor(private readonly options: LlamaServerChatProviderOptions = {}) {
    this.client = EngineClient.connect(options, {
      service: "llama-server",
      urlEnv: "LLAMA_SERVER_URL",
      defaultUrl: "http://127.0.0.1:8080",
      flag: "--provider llama-server",
      unreachableHint:
        "Start it (llama-server -m BASE.gguf --lora-init-without-apply --lora EXPERT.gguf ...) or fix the address: --provider llama-server:http://HOST:PORT.",
    });
    this.warn = options.onWarning ?? ((m) => console.warn(`herd: ${m}`));
    this.experts = options.experts ?? [];
  }

  /** The server address. */
  get baseUrl(): string {
    return this.client.baseUrl;
  }

  /**
   * Reads GET /lora-adapters and finds every expert's adapter id. Throws a ConfigError naming the
   * `--lora` flags to add when adapters are missing; an unreachable server is only a warning here.
   */
  async prepare(options: ChatCallOptions = {}): Promise<void> {
    try {
      await this.adapterIds(options.signal, true);
    } catch (error) {
      if (!(error instanceof ProviderUnavailableError || error instanceof BackendTimeoutError)) throw error;
      this.warn(error.message);
    }
  }

  /**
   * Gets ready for a reload of the experts: when an expert is new or changed, re-reads GET
   * /lora-adapters and finds the id of every expert's file. llama-server loads adapters only at
   * start-up, so when one is missing it throws ExpertsNotServedError naming the `--lora` to restart
   * llama-server with.
   */
  async reloadExperts(update: ExpertSetUpdate, options: ChatCallOptions = {}): Promise<ProviderExpertReload> {
    const dir = this.options.expertsDir ?? process.cwd();
    const next = expertAdapterFiles(update.next, dir);
    const fresh = new Set(changedExperts(update).map((e) => e.name));
    const byName = new Map([...this.experts, ...next].map((e) => [e.expert, e]));
    const warnings: string[] = [];
    const commit = (served: ExpertSet) => {
      const files = served.experts.map((e) => byName.get(e.name)).filter((e) => e !== undefined);
      const names = new Set(files.map((f) => f.expert));
      const ids = this.ids;
      this.generation++;
      this.experts = files;
      if (ids)
        this.ids = { loaded: ids.loaded, byExpert: new Map([...ids.byExpert].filter(([e]) => names.has(e))) };
    };
    if (fresh.size === 0) return { warnings, commit };
    let loaded: LoadedLora[];
    try {
      loaded = await this.readAdapters(options.signal, true);
    } catch (error) {
      if (!(error instanceof ProviderUnavailableError || error instanceof BackendTimeoutError)) throw error;
      warnings.push(uncheckedExpertsWarning("llama-server", [...fresh], error));
      // Unchecked: requests read the ids again and report what is missing.
      this.generation++;
      this.experts = [...byName.values()];
      this.ids = undefined;
      return { warnings, commit };
    }
    const { missing } = matchAdapters(loaded, next);
    if (missing.length > 0) {
      throw new ExpertsNotServedError(
        missing.map((m) => m.expert),
        `llama-server at ${this.baseUrl} has not loaded the adapter of ${missing.map((m) => `expert "${m.expert}" (${m.file})`).join(", ")}; it has ${
          loaded
            .slice(0, 10)
            .map((l) => l.path)
            .join(", ") || "none"
        }${loaded.length > 10 ? ", ..." : ""}. The experts are unchanged. llama-server loads adapters only at start-up: restart it adding ${missing.map((m) => `--lora ${m.file}`).join(" ")} (\`herd build --engine llama-server\` prints the command), then reload again (POST /admin/experts/reload).`,
      );
    }
    // Old and new experts from now on (ids of this read), until the router has switched.
    const { ids } = matchAdapters(loaded, [...byName.values()]);
    this.generation++;
    this.experts = [...byName.values()].filter((e) => ids.has(e.expert));
    this.ids = { loaded, byExpert: ids };
    return { warnings, commit };
  }

  async *stream(request: ChatRequest, options: ChatCallOptions = {}): AsyncGenerator<ChatChunk> {
    const ids = this.ids ?? (await this.adapterIds(options.signal).catch(asServerError(this.baseUrl)));
    // llama-server refuses logprobs on a streamed answer with tools: ask for one JSON reply then.
    const tools = (request.tools?.length ?? 0) > 0 && request.toolChoice !== "none";
    const stream = (options.stream ?? true) && !(request.params.logprobs && tools);
    const body = toOpenAIChatBody(request, request.target.model, stream, {
      repetitionPenaltyKey: "repeat_penalty",
      forcedToolChoice: "required",
      logprobs: true,
      minTopLogprobs: 1,
      parallelToolCalls: true,
      topKOff: 0,
    });
    body.lora = this.loraScales(request, ids);
    try {
      yield* this.client.chat(body, { signal: options.signal, reply: chatReplyOptions(request) });
    } catch (error) {
      // Down, perhaps restarting with other --lora flags: read the ids again once it is back.
      if (error instanceof ProviderUnavailableError) this.ids = undefined;
      throw error;
    }
  }

  /**
   * llama-server's GET /health: 200 `{"status":"ok"}`, 503 while the model loads. Once healthy it
   * re-reads GET /lora-adapters: ids follow the --lora order of the last start, and a server restarted
   * with another order would otherwise get the scales of one expert on another's adapter. Load
   * balancers poll /health, which bounds how long stale ids can last.
   */
  async health(): Promise<void> {
    await this.client.health("health");
    if (this.ids === undefined) return;
    this.ids = undefined; // a failed re-read leaves none: requests then re-read and report the problem
    await this.adapterIds();
  }

  /** Every loaded adapter with the routing weight of its expert, the others at 0. */
  private loraScales(request: ChatRequest, ids: AdapterIds): { id: number; scale: number }[] {
    const scales = new Map(ids.loaded.map((l) => [l.id, 0]));
    for (const { expert, scale } of request.target.adapters) {
      const id = ids.byExpert.get(expert);
      if (id === undefined) {
        throw new ModelNotFoundError(
          expert,
          `llama-server at ${this.baseUrl} has no adapter id for expert "${expert}": restart llama-server adding --lora <its .gguf file>, then reload the experts (POST /admin/experts/reload).`,
          this.baseUrl,
        );
      }
      scales.set(id, scale);
    }
    return [...scales].map(([id, scale]) => ({ id, scale }));
  }

  /** GET /lora-adapters matched to the experts' files; a ConfigError names the `--lora` flags when one is missing. */
  private async adapterIds(signal?: AbortSignal, check = false): Promise<AdapterIds> {
    const generation = this.generation;
    const experts = this.experts;
    const loaded = await this.readAdapters(signal, check);
    const flags = (list: readonly ExpertAdapterFile[]) => list.map((e) => `--lora ${e.file}`).join(" ");
    if (experts.length > 0 && loaded.length === 0) {
      throw new ConfigError(
        `llama-server at ${this.baseUrl} has no LoRA adapters loaded. Restart it with --lora-init-without-apply ${flags(experts)} (\`herd build --engine llama-server\` prints the command).`,
        "provider",
      );
    }
    const { ids, missing } = matchAdapters(loaded, experts);
    if (missing.length > 0) {
      throw new ConfigError(
        `llama-server at ${this.baseUrl} has not loaded the adapter of ${missing.map((m) => `expert "${m.expert}" (${m.file})`).join(", ")}; it has ${loaded.map((l) => l.path).join(", ")}. Restart it adding ${flags(missing)}.`,
        "provider",
      );
    }
    const found = { loaded, byExpert: ids };
    // A reload changed the experts meanwhile: its ids are newer than these.
    if (generation === this.generation) this.ids = found;
    return found;
  }

  /** GET /lora-adapters; `check` (start-up, reload) uses the health pool and bound. */
  private async readAdapters(signal?: AbortSignal, check = false): Promise<LoadedLora[]> {
    const data = await this.client.getJson("lora-adapters", { signal, check }).catch((error: unknown) => {
      if (error instanceof ProviderResponseError && error.providerStatus === 404) {
        throw new ConfigError(
          `${this.baseUrl} has no GET /lora-adapters: is it llama-server (a build with LoRA support)? Check --provider llama-server:URL.`,
          "provider.url",
          { cause: error },
        );
      }
      throw error;
    });
    const loaded = parseLoraAdapters(data);
    if (!loaded) {
      throw new ProviderResponseError(
        `${this.baseUrl} answered GET /lora-adapters without an adapter list; is it llama-server? Check --provider llama-server:URL.`,
        undefined,
        this.baseUrl,
      );
    }
    return loaded;
  }
}

/** At request time a misconfigured server is the server's problem (502), not the caller's (400). */
function asServerError(baseUrl: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof ConfigError)
      throw new ProviderResponseError(error.message, undefined, baseUrl, { cause: error });
    throw error;
  };
}
