import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Where Debian (and most Linux distributions) put Chromium; HERD_CHROMIUM overrides. */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/**
 * Launches the system's headless Chromium through playwright-core (no browser download). Fails with
 * the command that installs it when there is none: `.ci/run` does (apt-get install chromium).
 */
export async function launchChromium(): Promise<Browser> {
  const path = process.env.HERD_CHROMIUM ?? CANDIDATES.find((p) => existsSync(p));
  if (!path) {
    throw new Error(
      "No Chromium found for the browser tests: install it (apt-get install -y chromium) or set HERD_CHROMIUM to its path.",
    );
  }
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: path, args: ["--no-sandbox", "--disable-gpu"] });
}
