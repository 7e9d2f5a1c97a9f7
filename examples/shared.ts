import { fileURLToPath, pathToFileURL } from "node:url";

/** The experts shipped with Herd (experts/experts.json), whatever folder the example runs from. */
export const EXPERTS_DIR = fileURLToPath(new URL("../experts", import.meta.url));

/** Settings every example takes, so the test suite can run it against a mocked Ollama. */
export interface ExampleOptions {
  /** The Ollama server. @default env OLLAMA_HOST, then http://127.0.0.1:11434 */
  ollamaUrl?: string;
  /** Where the example prints. @default console.log */
  log?: (line: string) => void;
  /**
   * The experts folder (experts.json; routing stores what it learns in its centroids/ folder).
   * @default EXPERTS_DIR, the experts shipped with Herd
   */
  expertsDir?: string;
}

/** True when the module is the script being run (`npx tsx examples/x.ts`), not imported. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}
