import { type EngineLaunch, finishLaunch, type LaunchInput, launchAdapters } from "./launch-spec.js";

/** Settings of {@link loraxLaunch} beyond the common ones. */
export interface LoraxLaunchInput extends LaunchInput {
  /** Blends are merged by LoRAX per request (`merged_adapters`); none were prebuilt. */
  nativeMerge?: boolean;
  /** The base model's tokenizer_config.json on this machine, when found: native merges render prompts with it. */
  tokenizerConfig?: string;
}

/**
 * `lorax-launcher --model-id BASE --port P --preloaded-adapter-ids DIR/<expert>... --preloaded-adapter-source local`:
 * LoRAX loads any adapter folder on demand; the experts are preloaded to avoid a cold first
 * request. Herd selects an adapter as `<adapterDir>/<name>` with `adapter_source: "local"`.
 */
export function loraxLaunch(input: LoraxLaunchInput): EngineLaunch {
  const adapters = launchAdapters(input);
  const url = `http://127.0.0.1:${input.port}`;
  const adapterDir = input.plan.servedAdaptersDir;
  const experts = adapters.filter((a) => a.kind === "expert");
  return finishLaunch(
    {
      engine: "lorax",
      baseModel: input.baseModel,
      argv: [
        "lorax-launcher",
        "--model-id",
        input.baseModel,
        "--port",
        String(input.port),
        ...experts.flatMap((a) => ["--preloaded-adapter-ids", a.path]),
        "--preloaded-adapter-source",
        "local",
      ],
      env: {},
      url,
      // With native merges the provider blends through merged_adapters, rendering prompts from the
      // base model's chat template (provider.tokenizerConfig or provider.chatTemplate must be set).
      provider: input.nativeMerge
        ? {
            name: "lorax",
            url,
            adapterDir,
            merge: { strategy: "linear" },
            ...(input.tokenizerConfig ? { tokenizerConfig: input.tokenizerConfig } : {}),
          }
        : // the prebuilt blends: a blend not among them falls back to its top expert
          {
            name: "lorax",
            url,
            adapterDir,
            blends: adapters.filter((a) => a.kind === "blend").map((a) => a.name),
          },
      settings: { adapterDir, nativeMerge: input.nativeMerge ?? false },
      adapters,
      notes: [
        input.nativeMerge
          ? `Blends are not prebuilt (--native-merge): LoRAX merges the experts per request through merged_adapters, on a prompt Herd renders from the base model's chat template${input.tokenizerConfig ? ` (${input.tokenizerConfig})` : "; add provider.tokenizerConfig (the base model's tokenizer_config.json) to herd.config.json, or pass --model as a local model folder that has one"}.`
          : "Blends are prebuilt merged adapters (exact); with --native-merge LoRAX merges per request instead and no blend folders are written.",
        `adapterDir is the adapters folder as LoRAX sees it (${adapterDir}); in a container, mount the build folder and pass --engine-dir with its path inside.`,
      ],
    },
    input.plan.configFile,
  );
}
