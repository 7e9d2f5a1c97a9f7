/**
 * Starts and stops a real Chroma server (the one in the `chromadb` npm package) for development,
 * tests and benchmarks. On machines whose glibc is too old for Chroma's bindings it runs the
 * server under Debian trixie's glibc (see ./chroma-runtime.ts).
 *
 *     npx tsx scripts/chroma-server.ts start [--port 8000] [--path .chroma-data]
 *     npx tsx scripts/chroma-server.ts stop [--port 8000]
 *     npx tsx scripts/chroma-server.ts prepare      # only fetch what the server needs
 *
 * Tests import {@link startChroma} instead.
 */
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { prepareChromaRuntime, REPO_ROOT } from "./chroma-runtime.js";

/** The host the server binds to and clients use (not "localhost": it may resolve to ::1). */
export const CHROMA_HOST = "127.0.0.1";

/** Options for {@link startChroma}. */
export interface StartChromaOptions {
  /** The port to listen on. @default 8000 */
  port?: number;
  /** The data folder (created when missing). @default `.chroma-data` in the working directory */
  path?: string;
  /** Where the server's output goes. @default `<cacheDir>/chroma/chroma-<port>.log` */
  logFile?: string;
  /** Keep the server running after this process exits (the `start` command). @default false */
  detached?: boolean;
  /** How long to wait for the first heartbeat, in ms. @default 60000 */
  timeoutMs?: number;
  /** Folder for the glibc fallback and logs. @default `<repo>/.cache` */
  cacheDir?: string;
  /** Receives progress lines. @default no output */
  log?: (line: string) => void;
}

/** A running server started by {@link startChroma}. */
export interface RunningChroma {
  /** e.g. `http://127.0.0.1:8000` */
  url: string;
  port: number;
  pid: number;
  /** `native` or `glibc-fallback`. */
  mode: string;
  /** Stops the server: SIGINT, then SIGKILL after 5 s (Chroma 1.4 never exits on SIGTERM). */
  stop(): Promise<void>;
}

/** Starts a Chroma server and resolves once it answers GET /api/v2/heartbeat. */
export async function startChroma(options: StartChromaOptions = {}): Promise<RunningChroma> {
  const port = options.port ?? 8000;
  const url = `http://${CHROMA_HOST}:${port}`;
  const cacheDir = options.cacheDir ?? join(REPO_ROOT, ".cache");
  if (await heartbeat(url)) {
    throw new Error(`A Chroma server already answers at ${url}: stop it or pick another port.`);
  }
  const runtime = prepareChromaRuntime({ cacheDir, log: options.log });
  const dataDir = resolve(options.path ?? ".chroma-data");
  mkdirSync(dataDir, { recursive: true });
  const logFile = options.logFile ?? join(cacheDir, "chroma", `chroma-${port}.log`);
  mkdirSync(dirname(logFile), { recursive: true });
  const out = openSync(logFile, "w");
  const args = [...runtime.args, "run", "--path", dataDir, "--port", String(port), "--host", CHROMA_HOST];
  const child = spawn(runtime.command, args, {
    stdio: ["ignore", out, out],
    detached: options.detached ?? false,
  });
  closeSync(out);
  let exit: string | undefined;
  const exited = new Promise<void>((done) => {
    child.once("exit", (code, signal) => {
      exit = signal ? `signal ${signal}` : `exit code ${code}`;
      done();
    });
    child.once("error", (error) => {
      exit = error.message;
      done();
    });
  });
  const pid = child.pid ?? -1;
  const stop = () => stopProcess(pid, exited);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!(await heartbeat(url))) {
    if (exit !== undefined || Date.now() > deadline) {
      const reason = exit === undefined ? "no heartbeat in time" : `the server exited (${exit})`;
      await stop();
      throw new Error(`Chroma did not start at ${url}: ${reason}. ${logTail(logFile)} (log: ${logFile})`);
    }
    await sleep(100);
  }
  if (options.detached) child.unref();
  return { url, port, pid, mode: runtime.mode, stop };
}

/** True when a Chroma server answers the heartbeat at `url`. */
export async function heartbeat(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/api/v2/heartbeat`, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, CHROMA_HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/**
 * Sends SIGINT, waits up to `timeoutMs`, then SIGKILL. `exited` resolves when the process is gone
 * (for our own children); otherwise the pid is polled.
 */
export async function stopProcess(pid: number, exited?: Promise<void>, timeoutMs = 5000): Promise<void> {
  if (!signal(pid, "SIGINT")) return;
  const gone = exited ?? waitUntilGone(pid);
  const timer = sleep(timeoutMs).then(() => "timeout" as const);
  if ((await Promise.race([gone, timer])) === "timeout") {
    signal(pid, "SIGKILL");
    await gone;
  }
}

function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number): Promise<void> {
  while (signal(pid, 0)) await sleep(50);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** The last meaningful lines of the server log, without colour codes. */
function logTail(logFile: string): string {
  const text = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
  const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
  const lines = text
    .replace(ansi, "")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("at "));
  return lines.slice(-3).join(" | ");
}

/** Pid files of servers started with `start`, one per port. */
function pidFile(cacheDir: string, port: number): string {
  return join(cacheDir, "chroma", `chroma-${port}.pid`);
}

/** True when `pid` is still a Chroma CLI process (guards against a reused pid). */
function isChroma(pid: number): boolean {
  if (!signal(pid, 0)) return false;
  const cmdline = `/proc/${pid}/cmdline`;
  return !existsSync(cmdline) || readFileSync(cmdline, "utf8").includes("cli.mjs");
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { port: { type: "string" }, path: { type: "string" } },
  });
  const command = positionals[0];
  const cacheDir = join(REPO_ROOT, ".cache");
  const log = (line: string) => process.stderr.write(`chroma-server: ${line}\n`);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    log(`--port must be a port number (1-65535), got "${values.port}".`);
    return 2;
  }
  if (command === "prepare") {
    const runtime = prepareChromaRuntime({ cacheDir, log });
    log(`ready (${runtime.mode}): ${[runtime.command, ...runtime.args].join(" ")}`);
    return 0;
  }
  if (command === "start") {
    const server = await startChroma({ port, path: values.path, detached: true, cacheDir, log });
    writeFileSync(pidFile(cacheDir, server.port), `${server.pid}\n`);
    log(`started pid ${server.pid} (${server.mode}); stop it with: npx tsx scripts/chroma-server.ts stop`);
    process.stdout.write(`${server.url}\n`);
    return 0;
  }
  if (command === "stop") {
    const dir = join(cacheDir, "chroma");
    const files = port !== undefined ? [`chroma-${port}.pid`] : existsSync(dir) ? readdirSync(dir) : [];
    let stopped = 0;
    for (const name of files.filter((file) => /^chroma-\d+\.pid$/.test(file))) {
      const file = join(dir, name);
      if (!existsSync(file)) continue;
      const pid = Number(readFileSync(file, "utf8").trim());
      if (isChroma(pid)) {
        await stopProcess(pid);
        log(`stopped pid ${pid} (${name.replace(/\.pid$/, "").replace("chroma-", "port ")})`);
        stopped++;
      }
      rmSync(file, { force: true });
    }
    if (stopped === 0) log("no Chroma server started by this script is running.");
    return 0;
  }
  log("usage: chroma-server.ts start [--port N] [--path DIR] | stop [--port N] | prepare");
  return 2;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`chroma-server: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
