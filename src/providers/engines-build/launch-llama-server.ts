import { type EngineLaunch, finishLaunch, type LaunchInput, launchAdapters } from "./launch-spec.js";

/**
 * `llama-server -m BASE.gguf --lora <expert>.gguf... --lora-init-without-apply --jinja --port P`: every
 * expert loaded at scale 0, ids 0, 1, ... in experts.json order; Herd blends per request with
 * `lora: [{id, scale}]`, so no merged blend files are needed.
 */
export function llamaServerLaunch(input: LaunchInput): EngineLaunch {
  const adapters = launchAdapters(input).map((a, id) => ({ ...a, id }));
  const url = `http://127.0.0.1:${input.port}`;
  return finishLaunch(
    {
      engine: "llama-server",
      baseModel: input.baseModel,
      argv: [
        "llama-server",
        "-m",
        input.baseModel,
        ...adapters.flatMap((a) => ["--lora", a.path]),
        "--lora-init-without-apply",
        // The model's own chat template: llama-server refuses `tools` without it (older builds).
        "--jinja",
        "--port",
        String(input.port),
      ],
      env: {},
      url,
      provider: { name: "llama-server", url },
      settings: { adapters: adapters.length },
      adapters,
      notes: [
        "Adapter ids follow the --lora order (experts.json order); every adapter starts at scale 0 and Herd sets the scales per request.",
        "llama-server does not batch requests with different adapter scales together.",
      ],
    },
    input.plan.configFile,
  );
}
