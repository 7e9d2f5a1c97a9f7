/**
 * What the `herd serve` facade costs over a bare pass-through, side by side in the same run.
 *
 *     npx tsx bench/facade.ts [--seconds 1] [--rounds 5] [--no-portkey]
 *
 * A fast fake Ollama runs on loopback in one child process; the Herd facade (hashing embedder,
 * memory index, Ollama provider, routed) and a bare keep-alive pass-through proxy (http.request +
 * pipe: the practical ceiling for a Node facade) run in another; `@portkey-ai/gateway`, a general
 * Node LLM gateway (no routing), is installed into a temporary folder and runs in a third; this
 * process is the load generator (keep-alive, one request in flight per worker).
 * Each round runs every row for `--seconds`, in alternating order, and prints the ratios issue 13
 * asks for; the summary gives their median and range over the rounds. The machine is shared and
 * noisy: only same-run ratios mean something.
 */
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { portkeyHeaders, startPortkey } from "./facade-portkey.js";
import { startBareProxy, startFakeOllama } from "./facade-servers.js";

const PROMPTS = [
  "Write a Python function that reverses a list.",
  "What is the capital of Australia?",
  "Prove that the square root of 2 is irrational.",
  "Plan a three-day trip to Kyoto on a budget.",
  "If Tom is taller than Ann and Ann is taller than Bo, who is shortest?",
  "Give me a word that rhymes with orange.",
];

const role = process.argv[2];
if (role === "backend") {
  const port = await startFakeOllama(process.argv[3] === "drip" ? "drip" : "fast");
  process.send?.({ port });
} else if (role === "facade") {
  const backend = Number(process.argv[3]);
  const { createHerd } = await import("../src/herd.js");
  const { createApp } = await import("../src/server/app.js");
  const herd = await createHerd({
    provider: { name: "ollama", url: `http://127.0.0.1:${backend}` },
    embedder: { name: "hashing" },
    index: { name: "memory" },
    plugins: [],
    concurrency: { generation: 256, queue: 4096 },
  });
  // Routing decision cost: CPU per herd.route() over a few prompts (after warm-up).
  for (let i = 0; i < 500; i++) await herd.route(PROMPTS[i % PROMPTS.length]!);
  const n = 3000;
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) await herd.route(PROMPTS[i % PROMPTS.length]!);
  const used = process.cpuUsage(cpu);
  const routeUs = (used.user + used.system) / n;
  const app = createApp(herd, { logger: { error: () => {} } });
  const server = app.listen(0, "127.0.0.1", () => {
    server.keepAliveTimeout = 60_000;
    const address = server.address();
    process.send?.({ port: typeof address === "object" && address ? address.port : 0, routeUs });
  });
} else if (role === "proxy") {
  process.send?.({ proxyPort: await startBareProxy(Number(process.argv[3])) });
} else {
  await main();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function range(xs: number[], digits: number): string {
  return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
}

async function main(): Promise<void> {
  const flag = (name: string, fallback: number) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? Number(process.argv[at + 1]) : fallback;
  };
  const seconds = flag("--seconds", 1);
  const rounds = flag("--rounds", 5);
  const self = fileURLToPath(import.meta.url);
  const children: { kill: () => void }[] = [];
  const pids: Record<string, number> = {};
  const spawn = (args: string[], keys: string[]) =>
    new Promise<Record<string, number>>((resolve, reject) => {
      const child = fork(self, args, {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      children.push(child);
      pids[args.join(" ")] = child.pid ?? 0;
      const got: Record<string, number> = {};
      child.on("message", (m: Record<string, number>) => {
        Object.assign(got, m);
        if (keys.every((k) => k in got)) resolve(got);
      });
      child.on("exit", (code) => reject(new Error(`bench child ${args.join(" ")} exited with ${code}`)));
    });
  try {
    const fast = (await spawn(["backend", "fast"], ["port"])).port!;
    const facade = await spawn(["facade", String(fast)], ["port", "routeUs"]);
    const proxy = await spawn(["proxy", String(fast)], ["proxyPort"]);
    const facadePid = pids[`facade ${fast}`]!;
    const proxyPid = pids[`proxy ${fast}`]!;
    const portkey = process.argv.includes("--no-portkey") ? { error: "--no-portkey" } : await startPortkey();
    if ("stop" in portkey) children.push({ kill: portkey.stop });
    else console.log(`@portkey-ai/gateway not compared: ${portkey.error}`);

    // A prompt marked [drip] makes the fake Ollama send its first line at once and the rest 20 ms
    // later: the time to the first byte, through the same warm processes as the load rows.
    const ollamaBody = (stream: boolean, prompt = PROMPTS[0]) =>
      JSON.stringify({
        model: "herd-code",
        messages: [{ role: "user", content: prompt }],
        stream,
        options: { temperature: 0.5, top_k: 50, top_p: 1, repeat_penalty: 1 },
      });
    const openaiBody = (stream: boolean, prompt = PROMPTS[0]) =>
      JSON.stringify({ model: "herd", messages: [{ role: "user", content: prompt }], stream });
    const dripPrompt = `${PROMPTS[0]} [drip]`;
    type Row = { name: string; port: number; path: string; body: string; headers?: Record<string, string> };
    const rows: Record<string, Row> = {
      direct: { name: "backend directly", port: fast, path: "/api/chat", body: ollamaBody(false) },
      bare: {
        name: "bare proxy (JSON)",
        port: proxy.proxyPort!,
        path: "/api/chat",
        body: ollamaBody(false),
      },
      herd: {
        name: "herd routed (JSON)",
        port: facade.port!,
        path: "/v1/chat/completions",
        body: openaiBody(false),
      },
      bareStream: {
        name: "bare proxy (stream)",
        port: proxy.proxyPort!,
        path: "/api/chat",
        body: ollamaBody(true),
      },
      herdStream: {
        name: "herd routed (stream)",
        port: facade.port!,
        path: "/v1/chat/completions",
        body: openaiBody(true),
      },
    };
    if ("stop" in portkey) {
      rows.portkey = {
        name: "portkey gateway (JSON)",
        port: portkey.port,
        path: "/v1/chat/completions",
        body: JSON.stringify({ model: "herd-code", messages: [{ role: "user", content: PROMPTS[0] }] }),
        headers: portkeyHeaders(fast),
      };
    }

    console.log(
      `facade vs bare pass-through, fake Ollama on loopback; ${rounds} rounds, ${seconds} s per row, c=16 unless said\n`,
    );
    const ratios: Record<string, number[]> = {};
    const keep = (key: string, value: number) => {
      ratios[key] ??= [];
      ratios[key]!.push(value);
    };
    for (let round = 0; round < rounds; round++) {
      const order = Object.keys(rows).filter((k) => k !== "direct");
      if (round % 2 === 1) order.reverse();
      const rps: Record<string, number> = {};
      const cpuUs: Record<string, number> = {};
      for (const key of order) {
        const row = rows[key]!;
        const pid = key.startsWith("herd") ? facadePid : key.startsWith("bare") ? proxyPid : 0;
        const before = cpuMs(pid);
        const result = await load(row, 16, seconds * 1000);
        rps[key] = result.rps;
        if (pid) cpuUs[key] = ((cpuMs(pid) - before) * 1000) / result.count;
      }
      const c1 = { direct: 0, herd: 0 };
      for (const key of round % 2 ? (["herd", "direct"] as const) : (["direct", "herd"] as const)) {
        c1[key] = (await load(rows[key]!, 1, seconds * 1000)).p50;
      }
      const ttfbDirect = await firstByte(fast, "/api/chat", ollamaBody(true, dripPrompt), 40);
      const ttfbHerd = await firstByte(
        facade.port!,
        "/v1/chat/completions",
        openaiBody(true, dripPrompt),
        40,
      );
      const ttfbBare = await firstByte(proxy.proxyPort!, "/api/chat", ollamaBody(true, dripPrompt), 40);

      keep("json", rps.herd! / rps.bare!);
      keep("cpu", cpuUs.herd! / cpuUs.bare!);
      keep("cpuHerd", cpuUs.herd!);
      keep("stream", rps.herdStream! / rps.bareStream!);
      keep("p50", c1.herd - c1.direct);
      keep("ttfb", ttfbHerd.p50 - ttfbDirect.p50);
      keep("ttfbBare", ttfbBare.p50 - ttfbDirect.p50);
      if (rps.portkey !== undefined) {
        keep("portkey", rps.portkey / rps.bare!);
        keep("herdVsPortkey", rps.herd! / rps.portkey);
      }
      console.log(
        `round ${round + 1}: req/s ${Object.entries(rps)
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join(", ")}; c=1 p50 direct ${c1.direct.toFixed(3)} ms, herd ${c1.herd.toFixed(3)} ms; ` +
          `TTFB p50 direct ${ttfbDirect.p50.toFixed(3)} ms, bare ${ttfbBare.p50.toFixed(3)} ms, herd ${ttfbHerd.p50.toFixed(3)} ms`,
      );
    }
    console.log("\nmedian (range) over the rounds                     goal");
    console.log(`  routed JSON c=16 req/s vs bare:     ${range(ratios.json!, 2)}x   >= 0.5x`);
    console.log(`  c=1 added p50 over the backend:     ${range(ratios.p50!, 3)} ms   <= 0.5 ms`);
    console.log(`  streaming c=16 streams/s vs bare:   ${range(ratios.stream!, 2)}x   >= 0.4x`);
    console.log(`  stream first byte added:            ${range(ratios.ttfb!, 3)} ms   <= 1 ms`);
    console.log(
      `    (the bare proxy adds ${range(ratios.ttfbBare!, 3)} ms: the extra process hop on this machine)`,
    );
    console.log(
      `  CPU per JSON request, herd vs bare: ${range(ratios.cpu!, 1)}x (herd ${range(ratios.cpuHerd!, 0)} us)`,
    );
    console.log(`  routing decision (CPU per route):   ${facade.routeUs!.toFixed(0)} us   <= 100 us`);
    if (ratios.portkey) {
      console.log(`  portkey gateway JSON c=16 vs bare:  ${range(ratios.portkey, 2)}x`);
      console.log(`  herd routed vs portkey gateway:     ${range(ratios.herdVsPortkey!, 2)}x`);
    }
  } finally {
    for (const child of children) child.kill();
  }
}

/** CPU time (user + system) a process has used, in ms, from /proc (0 where there is none). */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

interface LoadResult {
  count: number;
  rps: number;
  p50: number;
  p99: number;
}

/** Runs `concurrency` workers for `ms` milliseconds, each sending the next request when the last ended. */
async function load(
  row: { port: number; path: string; body: string; headers?: Record<string, string> },
  concurrency: number,
  ms: number,
): Promise<LoadResult> {
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

/** Time to the first body byte of `n` sequential streaming requests. */
async function firstByte(
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
