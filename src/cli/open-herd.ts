import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../core/errors.js";
import { Router } from "../core/router.js";
import { createHerd, type Herd } from "../herd.js";
import { configFromFlags, type RoutingFlags } from "./common-options.js";

/** The experts folder used when none is given: ./experts when it exists, else the bundled default experts. */
export function defaultExpertsDir(): string {
  const local = resolve("experts");
  if (existsSync(resolve(local, "experts.json"))) return local;
  return fileURLToPath(new URL("../../experts", import.meta.url));
}

/** A Herd for the routing commands, plus its built-in Router (centroid building and import need it). */
export interface RoutingHerd {
  herd: Herd;
  router: Router;
  route: Herd["route"];
  indexKind: string;
  close(): Promise<void>;
}

/** Builds a Herd from the routing flags without touching the chat backend. */
export async function openHerd(
  flags: RoutingFlags,
  options: { prepare?: boolean } = {},
): Promise<RoutingHerd> {
  const config = await configFromFlags(flags, defaultExpertsDir());
  const herd = await createHerd(config, { prepare: options.prepare ?? false });
  const router = herd.router;
  if (!(router instanceof Router)) {
    await herd.close();
    throw new ConfigError(
      "This command needs Herd's built-in Router; the container binds another router.",
      "router",
    );
  }
  return {
    herd,
    router,
    route: (input, routeOptions) => herd.route(input, routeOptions),
    indexKind: herd.index.kind,
    close: () => herd.close(),
  };
}
