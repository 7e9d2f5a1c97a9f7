import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { ConfigError } from "../../core/errors.js";
import { readLabeledData } from "../../core/evaluation.js";
import { fitLinearRouting } from "../../core/routing/fit.js";
import { addRoutingFlags, progress, type RoutingFlags } from "../common-options.js";
import { openHerd } from "../open-herd.js";
import { UsageError } from "../usage-error.js";

interface FitFlags extends RoutingFlags {
  data: string;
  targetAccuracy: number;
  write?: string;
  dryRun?: boolean;
  json?: boolean;
}

function accuracyFlag(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) {
    throw new InvalidArgumentError(
      `--target-accuracy must be a number in (0, 1], e.g. 0.95; got "${value}".`,
    );
  }
  return n;
}

/** Reads a config file as raw JSON (relative paths untouched), or {} when it does not exist. */
async function readRawConfig(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return {};
  }
  const value = JSON.parse(text) as unknown;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(`${file} must hold a JSON object.`, "--write");
  }
  return value as Record<string, unknown>;
}

/**
 * `herd fit --data calibration.jsonl --target-accuracy 0.95`: calibrates the linear strategy's
 * probabilities and picks the base-model threshold, then writes both to the config file.
 */
export function registerFitCommand(program: Command): void {
  addRoutingFlags(
    program
      .command("fit")
      .description(
        "fit the linear router's temperature and base-model threshold on labeled prompts; write them to the config",
      )
      .requiredOption("--data <file>", 'labeled JSONL ({"prompt", "expert"} lines), never your test set')
      .option(
        "--target-accuracy <x>",
        "accuracy the routed prompts must reach; below the threshold the base model answers",
        accuracyFlag,
        0.95,
      )
      .option("--write <file>", "the config file to update (default: --config-file, else ./herd.json)")
      .option("--dry-run", "print what was fitted without writing")
      .option("--json", "print the result as JSON"),
  ).action(async (flags: FitFlags) => {
    if (flags.strategy !== undefined && flags.strategy !== "linear") {
      throw new UsageError(
        `herd fit calibrates the linear strategy, not --strategy ${flags.strategy}: drop --strategy or give --strategy linear ` +
          "(centroid and knn take a similarity threshold: set router.threshold by hand).",
      );
    }
    const data = await readLabeledData(flags.data);
    const herd = await openHerd(flags);
    try {
      const router = herd.router;
      if (router.settings.strategy !== "linear") {
        throw new ConfigError(
          `herd fit calibrates the linear strategy, but the strategy is "${router.settings.strategy}". ` +
            "Use --strategy linear (centroid and knn take a similarity threshold: set router.threshold by hand).",
          "router.strategy",
        );
      }
      const { manifest } = await router.linearModel();
      const result = await fitLinearRouting(router, data, {
        targetAccuracy: flags.targetAccuracy,
        currentTemperature: router.settings.calibrationTemperature ?? manifest.temperature,
        onProgress: progress("scoring", { quiet: flags.json }),
      });
      const file = resolve(flags.write ?? flags.configFile ?? "herd.json");
      if (!flags.dryRun) {
        const config = await readRawConfig(file);
        const routerConfig = (config.router ?? {}) as Record<string, unknown>;
        routerConfig.calibrationTemperature = Number(result.temperature.toFixed(4));
        routerConfig.threshold = Number((result.threshold?.threshold ?? 0).toFixed(4));
        config.router = routerConfig;
        await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...result, file: flags.dryRun ? null : file })}\n`);
      } else {
        const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
        const t = result.threshold;
        process.stdout.write(
          [
            `${result.n} prompts: accuracy ${pct(result.accuracy)} when every prompt is routed`,
            `temperature ${result.temperature.toFixed(4)} (expected calibration error ${result.ece.before.toFixed(3)} -> ${result.ece.after.toFixed(3)})`,
            t
              ? `threshold ${t.threshold.toFixed(4)}: routes ${pct(t.coverage)} of the prompts at ${pct(t.accuracy)} accuracy (target ${pct(result.targetAccuracy)}); the base model answers the rest`
              : `no threshold reaches ${pct(result.targetAccuracy)} accuracy on this data: the threshold stays off (0)`,
            flags.dryRun
              ? "dry run: nothing written"
              : `wrote router.calibrationTemperature and router.threshold to ${file}`,
          ].join("\n") + "\n",
        );
      }
    } finally {
      await herd.close();
    }
  });
}
