/**
 * Where the facade's CPU goes: a V8 CPU profile of `herd serve` (routed, JSON or streaming) under
 * load from this process, summarised by self time per function and per source file.
 *
 *     npx tsx bench/facade-profile.ts [--seconds 4] [--stream] [--proxy] [--top 40] [--out /tmp/herd.cpuprofile]
 *
 * The facade runs in a child process (hashing embedder, memory index, Ollama provider) in front of
 * the fast fake Ollama of bench/facade.ts; the profile is taken in that child with node:inspector,
 * so only the facade's own work is in it. Open the written .cpuprofile in Chrome DevTools for the
 * full tree. `--proxy` profiles the bare pass-through of bench/facade.ts instead, for comparison.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { fileURLToPath } from "node:url";
import { children, flag, load, serveHerdApp } from "./facade-load.js";
import { startBareProxy, startFakeOllama } from "./facade-servers.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

const role = process.argv[2];
if (role === "backend") {
  process.send?.({ port: await startFakeOllama("fast") });
} else if (role === "facade" || role === "proxy") {
  const target = process.argv[3]!;
  const port =
    role === "proxy"
      ? await startBareProxy(Number(target))
      : (await serveHerdApp({ name: "ollama", url: `http://127.0.0.1:${target}` })).port;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  process.on("message", async (m: { start?: boolean; stop?: boolean }) => {
    if (m.start) {
      await session.post("Profiler.start");
      process.send?.({ started: 1 });
    }
    if (m.stop) {
      const { profile } = await session.post("Profiler.stop");
      process.send?.({ profile: JSON.stringify(profile) });
    }
  });
  process.send?.({ port });
} else {
  await main();
}

async function main(): Promise<void> {
  const seconds = flag("--seconds", 4);
  const top = flag("--top", 40);
  const stream = process.argv.includes("--stream");
  const proxy = process.argv.includes("--proxy");
  const outAt = process.argv.indexOf("--out");
  const out = outAt > 0 ? process.argv[outAt + 1]! : "/tmp/herd-facade.cpuprofile";
  const procs = children(fileURLToPath(import.meta.url));
  try {
    const backend = (await procs.spawn(["backend"], ["port"])).port!;
    const { fork } = await import("node:child_process");
    const facade = fork(fileURLToPath(import.meta.url), [proxy ? "proxy" : "facade", String(backend)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    procs.adopt(facade);
    const ask = (message: object, key: string) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const on = (m: Record<string, unknown>) => {
          if (key in m) {
            facade.off("message", on);
            resolve(m);
          }
        };
        facade.on("message", on);
        if (Object.keys(message).length > 0) facade.send(message);
      });
    const { port } = (await ask({}, "port")) as { port: number };
    const messages = [{ role: "user", content: "Write a Python function that reverses a list." }];
    const row = proxy
      ? {
          name: "bare",
          port,
          path: "/api/chat",
          body: JSON.stringify({ model: "herd-code", messages, stream }),
        }
      : {
          name: "herd",
          port,
          path: "/v1/chat/completions",
          body: JSON.stringify({ model: "herd", messages, stream }),
        };
    await load(row, 16, 2000); // warm up: JIT, sockets
    await ask({ start: true }, "started");
    const result = await load(row, 16, seconds * 1000);
    const { profile } = (await ask({ stop: true }, "profile")) as { profile: string };
    writeFileSync(out, profile);
    summarise(
      JSON.parse(profile) as { nodes: ProfileNode[]; startTime: number; endTime: number },
      result.count,
      top,
    );
    console.log(`\n${result.count} requests at ${result.rps.toFixed(0)} req/s; profile written to ${out}`);
  } finally {
    procs.stop();
  }
}

function summarise(
  profile: { nodes: ProfileNode[]; startTime: number; endTime: number },
  requests: number,
  top: number,
) {
  const total = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
  const usPerHit = (profile.endTime - profile.startTime) / total;
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file =
      url.replace(/^.*\/node_modules\//, "~/").replace(/^file:\/\/.*\/(src|bench|dist)\//, "$1/") ||
      "(native)";
    const key = `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + hits);
    const fileKey = file.replace(/^~\/(@[^/]+\/[^/]+|[^/]+)\/.*$/, "~/$1");
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + hits);
  }
  const idle = byFn.get("(idle) (native):0") ?? 0;
  const busy = total - idle;
  const show = (title: string, map: Map<string, number>, n: number) => {
    console.log(`\n${title}`);
    for (const [k, hits] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      if (k.startsWith("(idle)")) continue;
      console.log(
        `${((hits / busy) * 100).toFixed(1).padStart(5)}%  ${((hits * usPerHit) / requests).toFixed(1).padStart(6)} us/req  ${k}`,
      );
    }
  };
  console.log(`busy CPU ${((busy * usPerHit) / requests).toFixed(0)} us per request (sampled)`);
  show("self time by function", byFn, top);
  show("self time by file / package", byFile, 25);
}
