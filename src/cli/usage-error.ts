import { defaultRegistries, type HerdRegistries } from "../container/index.js";

/**
 * A mistake in the command line itself (a flag's value, a missing setting, flags that conflict, a
 * name that does not exist): `herd` prints one line, `herd: <message> (see herd --help)`, and exits
 * 2, like the errors commander finds. Problems found while doing the work (a missing file, a backend
 * that cannot be reached) are runtime errors: exit 1.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The built-in registries, for checking names given on the command line (built once). */
let registries: HerdRegistries | undefined;

/**
 * Checks a name given on the command line against a built-in registry, so a typo is a usage error
 * naming the flag and the choices rather than a failure once Herd is being built.
 * @throws UsageError listing the known names
 */
export function checkName(
  flag: string,
  kind: keyof Pick<HerdRegistries, "embedders" | "indexes" | "chatProviders">,
  name: string,
): void {
  registries ??= defaultRegistries();
  const registry = registries[kind];
  if (registry.has(name)) return;
  throw new UsageError(
    `${flag} "${name}" is not one Herd knows; use one of: ${registry.names().join(", ")}.`,
  );
}
