import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/** The nearest Node peer of Herd's facade: a general LLM gateway (no routing). Never a dependency. */
const PACKAGE = "@portkey-ai/gateway@1.15.2";
const FOLDER = join(tmpdir(), "herd-bench-portkey");
const SERVER = join(FOLDER, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");

/** A running Portkey gateway, or why there is none. */
export type Portkey = { port: number; stop: () => void } | { error: string };

/**
 * Installs `@portkey-ai/gateway` into a temporary folder (once; `npm install --prefix`), starts it
 * on a free port and waits until it accepts connections. Any failure comes back as a reason, so
 * the benchmark prints it and carries on.
 */
export async function startPortkey(): Promise<Portkey> {
  try {
    if (!existsSync(SERVER)) {
      await promisify(execFile)(
        "npm",
        ["install", "--prefix", FOLDER, "--no-audit", "--no-fund", "--omit=dev", PACKAGE],
        { timeout: 300_000 },
      );
    }
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, [SERVER, `--port=${port}`, "--headless"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-500);
    });
    const deadline = Date.now() + 20_000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null) return { error: `it exited with ${child.exitCode}: ${stderr.trim()}` };
      if (Date.now() > deadline) {
        child.kill();
        return { error: "it did not start listening within 20 s" };
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { port, stop: () => child.kill() };
  } catch (error) {
    return { error: `cannot install or start ${PACKAGE}: ${(error as Error).message.split("\n")[0]}` };
  }
}

/** The headers that make Portkey forward an OpenAI request to an Ollama server. */
export function portkeyHeaders(backendPort: number): Record<string, string> {
  return {
    "x-portkey-provider": "ollama",
    "x-portkey-custom-host": `http://127.0.0.1:${backendPort}`,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
