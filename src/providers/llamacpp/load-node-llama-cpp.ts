import { MissingDependencyError } from "../../core/errors.js";

/** The node-llama-cpp module, loaded on demand. */
export type NodeLlamaCpp = typeof import("node-llama-cpp");

/**
 * Imports the optional peer `node-llama-cpp` with a dynamic import(), so SDK users who never use
 * llama.cpp need not install it.
 * @param purpose what needs it, for the error message, e.g. `The llamacpp chat provider`
 * @throws MissingDependencyError naming the package when it is not installed
 */
export function loadNodeLlamaCpp(purpose: string): Promise<NodeLlamaCpp> {
  return importOptional("node-llama-cpp", purpose, () => import("node-llama-cpp"));
}

/**
 * Runs `load` (a dynamic import of `packageName`) and turns "package not found" into a
 * MissingDependencyError that names the package to install; other errors pass through.
 */
export async function importOptional<T>(
  packageName: string,
  purpose: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ERR_MODULE_NOT_FOUND" && String((error as Error).message).includes(packageName)) {
      throw new MissingDependencyError(packageName, purpose, { cause: error });
    }
    throw error;
  }
}

/**
 * The default llama.cpp thread count: 1 on machines with up to 2 cores (more threads than cores
 * makes llama.cpp crawl: about 3 tok/s instead of 1,300+ on the tiny model), otherwise all cores
 * but one, leaving one for Node's event loop and the HTTP server.
 */
export function defaultThreads(cores: number): number {
  return cores <= 2 ? 1 : cores - 1;
}
