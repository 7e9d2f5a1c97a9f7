import { blendVariants, expertModel } from "../../../core/blend-resolver.js";
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
  ProviderResponseError,
  ProviderUnavailableError,
} from "../../../core/errors.js";
import type { ExpertSet } from "../../../core/expert.js";
import { changedExperts, uncheckedExpertsWarning } from "../../../core/expert-reload.js";
import { EngineClient, type EngineConnectionOptions } from "../../http/engine-client.js";
import { toOpenAIChatBody } from "../../http/openai-chat-body.js";
import { chatReplyOptions } from "../../http/openai-chat-stream.js";
import { parseVllmModels, type VllmServedModels } from "./vllm-models.js";

/** Settings of {@link VllmChatProvider}. */
export interface VllmChatProviderOptions extends EngineConnectionOptions {
  /** The vLLM server. @default env VLLM_URL, then "http://127.0.0.1:8000" */
  url?: string;
  /** Each expert's LoRA module name (`--lora-modules NAME=PATH`), by expert: `herd-<expert>` by Herd's convention. @default {} */
  experts?: Record<string, string>;
  /**
   * The adapters folder as the vLLM server sees it (`herd build --engine vllm`'s `adapters/`). When set,
   * experts and blends the server does not serve are loaded at start-up through
   * POST /v1/load_lora_adapter (the server needs VLLM_ALLOW_RUNTIME_LORA_UPDATING=True).
   * @default none: only adapters given with --lora-modules are used
   */
  adapterDir?: string;
  /** Blend adapters to load from `adapterDir` when the server lacks them (missing folders are skipped). @default [] */
  blends?: string[];
  /**
   * Without `blends`: the blend grid whose two-expert variants (`herd build --engine vllm`'s) are
   * loaded from `adapterDir`, for the start-up experts and for experts added by a reload.
   * @default none: no blends are loaded
   */
  blendGrid?: number;
  /** Where start-up notes go (adapters loaded, blends missing). @default console.warn */
  onWarning?: (message: string) => void;
}

/** FastAPI's 404 for a route that does not exist (`{"detail":"Not Found"}`, possibly re-wrapped). */
const ROUTE_MISSING = /: Not Found( \[\w+\])?$/;

const LAUNCH =
  "vllm serve BASE --enable-lora --max-lora-rank R --lora-modules herd-<expert>=ADAPTERS/herd-<expert> ...";

/**
 * Generates with vLLM's OpenAI-compatible server: an expert is a LoRA module selected by `model`
 * (its `herd-<expert>` name), a blend is a merged adapter made by `herd merge`/`herd build --engine vllm`
 * (`herd-blend-...`), batched with every other adapter. `prepare` reads GET /v1/models to learn the
 * base and the loaded adapters, loads missing ones from `adapterDir` when allowed, and refuses to start
 * when an expert cannot be served; a reload of the experts (`reloadExperts`) does the same for the
 * new set. Blends that are not loaded fall back to the top expert (the blend resolver reads `listModels`).
 *
 * @example
 * const provider = new VllmChatProvider({ url: "http://127.0.0.1:8000", experts: { code: "herd-code" } });
 * await provider.prepare();
 */
export class VllmChatProvider implements ChatProvider {
  readonly name = "vllm";
  /** vLLM enforces `tool_choice` "required" and a named tool itself (structured outputs, v0.8.3+) and returns logprobs. */
  readonly capabilities: ChatProviderCapabilities = {
    nativeBlend: false,
    tools: true,
    jsonSchema: true,
    forcedToolChoice: true,
    logprobs: true,
  };
  private readonly client: EngineClient;
  private served: VllmServedModels | undefined;
  /** Each expert's LoRA module name: the start-up experts, then those of the last reload. */
  private experts: Record<string, string>;
  private readonly warn: (message: string) => void;

  constructor(private readonly options: VllmChatProviderOptions = {}) {
    this.client = EngineClient.connect(options, {
      service: "vLLM",
      urlEnv: "VLLM_URL",
      defaultUrl: "http://127.0.0.1:8000",
      flag: "--provider vllm",
      unreachableHint: `Start it (${LAUNCH}) or fix the address: --provider vllm:http://HOST:PORT.`,
      notFoundHint: (model) =>
        `Serve it: add ${model}=<adapters>/${model} to vLLM's --lora-modules (\`herd build --engine vllm\` writes the list), or set provider.adapterDir with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True to load it at run time.`,
    });
    this.warn = options.onWarning ?? ((m) => console.warn(`herd: ${m}`));
    this.experts = { ...options.experts };
  }

  /** The server address. */
  get baseUrl(): string {
    return this.client.baseUrl;
  }

  /**
   * Reads GET /v1/models; loads missing experts (and the configured blends) from `adapterDir`; throws
   * a ConfigError naming `--lora-modules` when an expert is still not served. An unreachable server
   * is only a warning (requests and /health report it until it is up).
   */
  async prepare(options: ChatCallOptions = {}): Promise<void> {
    let served: VllmServedModels;
    try {
      served = await this.readModels(options.signal, true);
    } catch (error) {
      if (error instanceof ProviderUnavailableError || error instanceof BackendTimeoutError) {
        this.warn(error.message);
        return;
      }
      throw error;
    }
    const experts = Object.entries(this.experts);
    if (this.options.adapterDir) {
      for (const [, name] of experts) if (!served.adapters.includes(name)) await this.load(name, true);
      const skipped: string[] = [];
      for (const name of this.blendsOf(Object.keys(this.experts))) {
        if (!served.adapters.includes(name) && !(await this.load(name, false))) skipped.push(name);
      }
      if (skipped.length > 0) this.warn(this.skippedBlends(skipped));
      served = await this.readModels(options.signal, true);
    }
    if (experts.length > 0 && served.adapters.length === 0) {
      throw new ConfigError(
        `vLLM at ${this.baseUrl} serves no LoRA adapters (only ${served.base ?? "its base model"}). Start it with --enable-lora --lora-modules ${experts.map(([, m]) => `${m}=<adapters>/${m}`).join(" ")} (\`herd build --engine vllm\` writes the list).`,
        "provider",
      );
    }
    const missing = experts.filter(([, model]) => !served.adapters.includes(model));
    if (missing.length > 0) {
      throw new ConfigError(
        `vLLM at ${this.baseUrl} does not serve the adapter(s) of ${missing.map(([e, m]) => `expert "${e}" (${m})`).join(", ")}; it serves ${served.adapters.join(", ")}. Add ${missing.map(([, m]) => `${m}=<adapters>/${m}`).join(" ")} to --lora-modules and restart it, or set provider.adapterDir to load them at run time.`,
        "provider",
      );
    }
  }

  /**
   * Gets ready for a reload of the experts: when an expert is new or changed, reads GET /v1/models,
   * loads the missing adapters of the new set (and the new experts' blends) from `adapterDir` when
   * set, and throws ExpertsNotServedError naming the `--lora-modules` to add when vLLM still does not
   * serve one. Adapters stay loaded in vLLM after their expert leaves (another replica may still
   * route to them).
   */
  async reloadExperts(update: ExpertSetUpdate, options: ChatCallOptions = {}): Promise<ProviderExpertReload> {
    const fresh = changedExperts(update).map((e) => [e.name, expertModel(e)] as const);
    const wanted = update.next.experts.map((e) => [e.name, expertModel(e)] as const);
    const old = new Set(this.blendsOf(update.current.experts.map((e) => e.name)));
    const blends = this.blendsOf(update.next.experts.map((e) => e.name)).filter((b) => !old.has(b));
    const warnings: string[] = [];
    const commit = (served: ExpertSet) => {
      this.experts = Object.fromEntries(served.experts.map((e) => [e.name, expertModel(e)]));
    };
    if (fresh.length === 0 && blends.length === 0) return { warnings, commit };
    try {
      let served = await this.readModels(options.signal, true);
      const failures = new Map<string, string>();
      if (this.options.adapterDir) {
        // Run-time loading off (a ConfigError) is one more reason the adapter is not served.
        const load = (name: string) => this.tryLoad(name).catch((error: unknown) => (error as Error).message);
        for (const [, name] of wanted) {
          if (served.adapters.includes(name) || failures.has(name)) continue;
          const failure = await load(name);
          if (failure !== undefined) failures.set(name, failure);
        }
        const skipped: string[] = [];
        for (const name of blends) {
          if (!served.adapters.includes(name) && (await load(name)) !== undefined) skipped.push(name);
        }
        if (skipped.length > 0) warnings.push(this.skippedBlends(skipped));
        served = await this.readModels(options.signal, true);
      }
      const missing = wanted.filter(([, model]) => !served.adapters.includes(model));
      if (missing.length > 0) {
        throw new ExpertsNotServedError(
          missing.map(([e]) => e),
          `vLLM at ${this.baseUrl} does not serve the adapter of ${missing.map(([e, m]) => `expert "${e}" (${m}${failures.has(m) ? `: ${failures.get(m)}` : ""})`).join(", ")}. The experts are unchanged. Restart vLLM adding ${missing.map(([, m]) => `${m}=<adapters>/${m}`).join(" ")} to --lora-modules (\`herd build --engine vllm\` writes the adapters and the list), or set provider.adapterDir and start vLLM with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True so Herd loads them; then reload again (POST /admin/experts/reload).`,
        );
      }
    } catch (error) {
      if (!(error instanceof ProviderUnavailableError || error instanceof BackendTimeoutError)) throw error;
      warnings.push(uncheckedExpertsWarning("vLLM", [...new Set(fresh.map(([e]) => e))], error));
    }
    return { warnings, commit };
  }

  /** The base model and every LoRA module the server serves (read at `prepare`, else now). */
  async listModels(options: ChatCallOptions = {}): Promise<string[]> {
    const served = this.served ?? (await this.readModels(options.signal));
    return [...(served.base ? [served.base] : []), ...served.adapters];
  }

  async *stream(request: ChatRequest, options: ChatCallOptions = {}): AsyncGenerator<ChatChunk> {
    const model = await this.modelFor(request, options.signal);
    const body = toOpenAIChatBody(request, model, options.stream ?? true, {
      repetitionPenaltyKey: "repetition_penalty",
      logprobs: true,
      parallelToolCalls: true,
      topKOff: -1,
    });
    yield* this.client.chat(body, { signal: options.signal, model, reply: chatReplyOptions(request) });
  }

  /** vLLM's GET /health: 200 once the engine is up. */
  async health(): Promise<void> {
    await this.client.health("health");
  }

  /** The served name for a target: the adapter's name, and for the base the id vLLM serves it under. */
  private async modelFor(request: ChatRequest, signal?: AbortSignal): Promise<string> {
    if (!request.target.base) return request.target.model;
    const served = this.served ?? (await this.readModels(signal).catch(() => undefined));
    if (!served?.base) return request.target.model;
    const known = served.adapters.includes(request.target.model) || served.base === request.target.model;
    return known ? request.target.model : served.base;
  }

  /** GET /v1/models; `check` (at start-up) uses the health pool and bound. */
  private async readModels(signal?: AbortSignal, check = false): Promise<VllmServedModels> {
    const data = await this.client.getJson("v1/models", { signal, check }).catch((error: unknown) => {
      if (error instanceof ProviderResponseError && error.providerStatus === 404) {
        throw new ConfigError(
          `${this.baseUrl} has no GET /v1/models: is it vLLM's OpenAI-compatible server (vllm serve)? Check --provider vllm:URL.`,
          "provider.url",
          { cause: error },
        );
      }
      throw error;
    });
    const served = parseVllmModels(data);
    if (!served) {
      throw new ProviderResponseError(
        `${this.baseUrl} answered GET /v1/models without a model list; is it a vLLM server? Check --provider vllm:URL.`,
        undefined,
        this.baseUrl,
      );
    }
    this.served = served;
    return served;
  }

  /** The blend adapters to load for these experts: `blends`, else the variants on `blendGrid`. */
  private blendsOf(experts: readonly string[]): string[] {
    if (this.options.blends) return this.options.blends;
    const grid = this.options.blendGrid;
    return this.options.adapterDir && grid !== undefined
      ? blendVariants(experts, grid).map((v) => v.model)
      : [];
  }

  private skippedBlends(skipped: readonly string[]): string {
    return `vLLM could not load ${skipped.length} blend adapter(s) from ${this.options.adapterDir} (${skipped.slice(0, 3).join(", ")}${skipped.length > 3 ? ", ..." : ""}); those blends fall back to their top expert.`;
  }

  /**
   * POST /v1/load_lora_adapter (a plain-text reply). Returns false when the adapter folder is missing
   * and `required` is false; throws when run-time loading is off (404) or a required adapter fails.
   */
  private async load(name: string, required: boolean): Promise<boolean> {
    const failure = await this.tryLoad(name);
    if (failure === undefined) return true;
    if (!required) return false;
    throw new ConfigError(
      `vLLM at ${this.baseUrl} could not load the adapter "${name}" from ${this.adapterPath(name)}: ${failure}. Check provider.adapterDir (the folder as the vLLM server sees it) and \`herd build --engine vllm\`.`,
      "provider.adapterDir",
    );
  }

  /**
   * POST /v1/load_lora_adapter; resolves with why it failed, or undefined once loaded. Throws a
   * ConfigError when run-time loading is off (404).
   */
  private async tryLoad(name: string): Promise<string | undefined> {
    try {
      const response = await this.client.send("POST", "v1/load_lora_adapter", {
        lora_name: name,
        lora_path: this.adapterPath(name),
      });
      await response.text();
      return undefined;
    } catch (error) {
      if (
        error instanceof ProviderResponseError &&
        error.providerStatus === 404 &&
        ROUTE_MISSING.test(error.message)
      ) {
        throw new ConfigError(
          `vLLM at ${this.baseUrl} does not allow loading adapters at run time (POST /v1/load_lora_adapter answered 404). Start it with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, or list the adapters with --lora-modules and drop provider.adapterDir.`,
          "provider.adapterDir",
          { cause: error },
        );
      }
      return (error as Error).message;
    }
  }

  private adapterPath(name: string): string {
    return `${this.options.adapterDir!.replace(/\/+$/, "")}/${name}`;
  }
}
