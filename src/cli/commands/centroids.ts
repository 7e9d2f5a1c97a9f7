import type { Command } from "commander";
import { readCentroidFolder } from "../../core/centroid-store.js";
import { addRoutingFlags, integer, positiveInt, progress, type RoutingFlags } from "../common-options.js";
import { openHerd } from "../open-herd.js";

interface CentroidFlags extends RoutingFlags {
  samples?: number;
  seed?: number;
  import?: string;
  linear: boolean;
  json?: boolean;
}

/**
 * `herd centroids`: (re)builds the expert centroids for the configured embedder and writes them to
 * the index, and (re)trains the `linear` strategy's model; both are stored per embedder.
 */
export function registerCentroidsCommand(program: Command): void {
  addRoutingFlags(
    program
      .command("centroids")
      .description(
        "build the expert centroids and train the linear router for an embedder from the example prompts; store both and write the index",
      )
      .option("--samples <n>", "example prompts sampled per expert (default 100)", positiveInt("--samples"))
      .option("--seed <n>", "sampling seed (default 42)", integer("--seed"))
      .option("--import <dir>", "import centroids saved by the original Python Herd (<expert>.npy, float64)")
      .option("--no-linear", "do not train the linear router")
      .option("--json", "print the centroids' manifest as JSON (the linear router's under `linear`)"),
  ).action(async (flags: CentroidFlags) => {
    const herd = await openHerd(flags);
    try {
      const router = herd.router;
      const set = flags.import
        ? await router.importCentroids(
            await readCentroidFolder(
              flags.import,
              router.experts.experts.map((e) => e.name),
            ),
          )
        : await router.rebuildCentroids({
            samples: flags.samples,
            seed: flags.seed,
            onProgress: progress("embedding examples", { quiet: flags.json }),
          });
      const linear = flags.linear
        ? (
            await router.retrainLinear({
              onProgress: progress("linear router features", { quiet: flags.json }),
            })
          ).manifest
        : undefined;
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...set.manifest, linear }, null, 2)}\n`);
      } else {
        const where = router.centroidsFolder ? ` in ${router.centroidsFolder}` : "";
        process.stdout.write(
          `${set.centroids.size} centroids (dimension ${set.manifest.dimension}) for embedder ${set.manifest.embedder}${where}, written to the ${herd.indexKind} index\n`,
        );
        if (linear) {
          const file = router.linearModelFile ? ` in ${router.linearModelFile}` : "";
          process.stdout.write(
            `linear router: ${linear.examples} examples, ${linear.rows} weight rows (${linear.features}), ${linear.iterations} L-BFGS iterations, temperature ${linear.temperature.toFixed(3)}, trained in ${(linear.trainMs / 1000).toFixed(1)} s${file}\n`,
          );
        }
      }
    } finally {
      await herd.close();
    }
  });
}
