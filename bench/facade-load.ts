import { execFileSync, fork } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { HerdConfigInput } from "../src/core/config.js";
import type { Herd } from "../src/herd.js";

/**
 * What the facade benchmarks (bench/facade.ts, bench/facade-engines.ts) share: the load generator,
 * the child processes the servers run in, a served Herd, and the statistics of the rounds.
 */

/** A target of the load generator: a POST with a JSON body. */
export interface LoadRow {
  name: string;
  port: number;
  path: string;
  body: string;
  headers?: Record<string, string>;
}

/** What one load run measured. */
export interface LoadResult {
  count: number;
  rps: number;
  p50: number;
  p99: number;
}

/** A numeric command-line flag (`--seconds 2`), or its fallback. */
export function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** `median (min-max)` with `digits` decimals. */
export function range(xs: number[], digits: number): string {
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
}

/** Collects one value per round under a key, for `range`. */
export function collector(): {
  values: Record<string, number[]>;
  keep: (key: string, value: number) => void;
} {
  const values: Record<string, number[]> = {};
  return {
    values,
    keep: (key, value) => {
      values[key] ??= [];
      values[key]!.push(value);
    },
  };
}

/**
 * Forks `script` with a role (`args`) as a child process under tsx and resolves with the numbers
 * it sends over IPC once every key in `keys` has arrived. `stop()` kills every child started.
 */
export function children(script: string) {
  const started: { kill: () => void }[] = [];
  const pids: Record<string, number> = {};
  return {
    /** Each child's process id, by its arguments joined with spaces (`facade 4242`). */
    pids,
    spawn: (args: string[], keys: readonly string[]): Promise<Record<string, number>> => {
      return new Promise((resolve, reject) => {
        const child = fork(script, args, {
          execArgv: ["--import", "tsx"],
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        started.push(child);
        pids[args.join(" ")] = child.pid ?? 0;
        const got: Record<string, number> = {};
        child.on("message", (m: Record<string, number>) => {
          Object.assign(got, m);
          if (keys.every((k) => k in got)) resolve(got);
        });
        child.on("exit", (code) => reject(new Error(`bench child ${args.join(" ")} exited with ${code}`)));
      });
    },
    /** Stops `child` with the others. */
    adopt: (child: { kill: () => void }) => {
      started.push(child);
    },
    stop: () => {
      for (const child of started) child.kill();
    },
  };
}

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Imports a module of the built package (dist/), the code `herd serve` runs, not the TypeScript
 * sources through tsx (whose transform adds work of its own: a `__name` call per closure). Builds
 * first (`npm run build`) when dist/ is missing or older than any file in src/.
 */
async function fromDist<T>(path: string): Promise<T> {
  const built = join(root, "dist", "herd.js");
  if (!existsSync(built) || newestMtime(join(root, "src")) > statSync(built).mtimeMs) {
    console.error("bench: dist/ is missing or older than src/; running npm run build");
    execFileSync("npm", ["run", "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  }
  return (await import(pathToFileURL(join(root, "dist", path)).href)) as T;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * Builds a Herd (hashing embedder, memory index, no plugins unless `plugins`) over `provider` from
 * dist/ and serves `herd serve`'s app on 127.0.0.1 port 0; with the metrics plugin, the app gets it as
 * `herd serve` wires it. Resolves to the Herd and the port.
 */
export async function serveHerdApp(
  provider: HerdConfigInput["provider"],
  plugins: string[] = [],
): Promise<{ herd: Herd; port: number }> {
  const { createHerd } = await fromDist<typeof import("../src/herd.js")>("herd.js");
  const { createApp } = await fromDist<typeof import("../src/server/app.js")>("server/app.js");
  const { MetricsPlugin } =
    await fromDist<typeof import("../src/plugins/metrics/index.js")>("plugins/metrics/index.js");
  const herd = await createHerd({
    provider,
    embedder: { name: "hashing" },
    index: { name: "memory" },
    plugins,
    concurrency: { generation: 256, queue: 4096 },
  });
  const metrics = herd.plugins.find((p) => p instanceof MetricsPlugin) as
    | InstanceType<typeof MetricsPlugin>
    | undefined;
  const server = createApp(herd, { logger: { error: () => {} }, metrics });
  return new Promise((resolve) => {
    const listening = server.listen(0, "127.0.0.1", () => {
      listening.keepAliveTimeout = 60_000;
      const address = listening.address();
      resolve({ herd, port: typeof address === "object" && address ? address.port : 0 });
    });
  });
}

/** CPU time (user + system) a process has used, in ms, from /proc (0 where there is none). */
export function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** Runs `concurrency` workers for `ms` milliseconds, each sending the next request when the last ended. */
export async function load(row: LoadRow, concurrency: number, ms: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const send = () => request(agent, row.port, row.path, row.body, false, row.headers);
  const warmUntil = performance.now() + 300;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < warmUntil) await send();
    }),
  );
  const latencies: number[] = [];
  const start = performance.now();
  const until = start + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) latencies.push(await send());
    }),
  );
  const elapsed = performance.now() - start;
  agent.destroy();
  return { count: latencies.length, rps: (latencies.length / elapsed) * 1000, ...percentiles(latencies) };
}

/** `load`, also measuring the CPU per request of the process `pid` (0: not measured). */
export async function loadWithCpu(
  row: LoadRow,
  concurrency: number,
  ms: number,
  pid: number,
): Promise<LoadResult & { cpuUs: number }> {
  const before = cpuMs(pid);
  const result = await load(row, concurrency, ms);
  return { ...result, cpuUs: pid ? ((cpuMs(pid) - before) * 1000) / result.count : 0 };
}

/** Time to the first body byte of `n` sequential streaming requests. */
export async function firstByte(
  port: number,
  path: string,
  body: string,
  n: number,
): Promise<{ p50: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 10; i++) await request(agent, port, path, body, true);
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await request(agent, port, path, body, true));
  agent.destroy();
  return percentiles(times);
}

/** One request; resolves to milliseconds until the whole body (or, with `firstByteOnly`, its first byte). */
function request(
  agent: http.Agent,
  port: number,
  path: string,
  body: string,
  firstByteOnly: boolean,
  extraHeaders: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let first = 0;
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent,
        headers: {
          ...extraHeaders,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`${path} answered ${res.statusCode}`));
        res.on("data", () => {
          if (first === 0) first = performance.now() - start;
        });
        res.on("end", () => resolve(firstByteOnly ? first : performance.now() - start));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function percentiles(values: number[]): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}
