import type { Command } from "commander";
import { readCentroidFolder } from "../../core/centroid-store.js";
import { addRoutingFlags, integer, positiveInt, progress, type RoutingFlags } from "../common-options.js";
import { openHerd } from "../open-herd.js";

interface CentroidFlags extends RoutingFlags {
  samples?: number;
  seed?: number;
  import?: string;
  json?: boolean;
}

/** `herd centroids`: (re)builds the expert centroids for the configured embedder and writes them to the index. */
export function registerCentroidsCommand(program: Command): void {
  addRoutingFlags(
    program
      .command("centroids")
      .description(
        "build the expert centroids for an embedder from the example prompts; store them and write the index",
      )
      .option("--samples <n>", "example prompts sampled per expert (default 100)", positiveInt("--samples"))
      .option("--seed <n>", "sampling seed (default 42)", integer("--seed"))
      .option("--import <dir>", "import centroids saved by the original Python Herd (<expert>.npy, float64)")
      .option("--json", "print the manifest as JSON"),
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
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(set.manifest, null, 2)}\n`);
      } else {
        const where = router.centroidsFolder ? ` in ${router.centroidsFolder}` : "";
        process.stdout.write(
          `${set.centroids.size} centroids (dimension ${set.manifest.dimension}) for embedder ${set.manifest.embedder}${where}, written to the ${herd.indexKind} index\n`,
        );
      }
    } finally {
      await herd.close();
    }
  });
}
