/**
 * What the `herd serve` facade costs over calling the backend directly.
 *
 *     npx tsx bench/facade.ts [--seconds 2]
 *
 * A fast fake Ollama runs on loopback in one child process; the Herd facade (hashing embedder,
 * memory index, Ollama provider) and a bare keep-alive pass-through proxy run in another; this
 * process is the load generator (http.Agent keep-alive, one request in flight per worker).
 * Prints req/s and latency p50/p99 at concurrency 1, 16 and 64 for: the backend directly, the bare
 * proxy (the practical ceiling for a Node facade), the facade over a stub Herd (the HTTP layer alone),
 * Herd on the base model (no routing), Herd routed, and Herd routed with the metrics plugin (as
 * `herd serve` runs it), then the time to the first byte of a stream with and without Herd. Then the
 * same for each engine provider (vLLM, LoRAX, llama-server) over a fast stand-in of its API, next to
 * the Ollama path. The machine is shared and noisy: compare rows of one run.
 */
import { fork } from "node:child_process";
import http from "node:http";
import { fileURLToPath } from "node:url";
import { ENGINES, engineRequestBody, startFakeEngine } from "./engine-servers.js";
import { startBareProxy, startFakeOllama, stubHerd } from "./facade-servers.js";

const role = process.argv[2];
if (role === "engines") {
  const ports: Record<string, number> = {};
  for (const kind of ENGINES) ports[kind] = await startFakeEngine(kind);
  process.send?.(ports);
} else if (role === "engine-facades") {
  const { createHerd } = await import("../src/herd.js");
  const { createApp } = await import("../src/server/app.js");
  const ports = JSON.parse(process.argv[3]!) as Record<string, number>;
  for (const kind of ENGINES) {
    const url = `http://127.0.0.1:${ports[kind]}`;
    const herd = await createHerd({
      provider: kind === "lorax" ? { name: kind, url, adapterDir: "/data/adapters" } : { name: kind, url },
      embedder: { name: "hashing" },
      index: { name: "memory" },
      plugins: [],
      concurrency: { generation: 256, queue: 4096 },
    });
    const server = createApp(herd, { logger: { error: () => {} } }).listen(0, "127.0.0.1", () => {
      server.keepAliveTimeout = 60_000;
      const address = server.address();
      process.send?.({ [kind]: typeof address === "object" && address ? address.port : 0 });
    });
  }
} else if (role === "backend") {
  const port = await startFakeOllama(process.argv[3] === "drip" ? "drip" : "fast");
  process.send?.({ port });
} else if (role === "facade") {
  const backend = Number(process.argv[3]);
  const { createHerd } = await import("../src/herd.js");
  const { createApp } = await import("../src/server/app.js");
  const stub = createApp(stubHerd(), { logger: { error: () => {} } }).listen(0, "127.0.0.1", () => {
    const address = stub.address();
    process.send?.({ stubPort: typeof address === "object" && address ? address.port : 0 });
  });
  const herd = await createHerd({
    provider: { name: "ollama", url: `http://127.0.0.1:${backend}` },
    embedder: { name: "hashing" },
    index: { name: "memory" },
    plugins: [],
    concurrency: { generation: 256, queue: 4096 },
  });
  const app = createApp(herd, { logger: { error: () => {} } });
  const server = app.listen(0, "127.0.0.1", () => {
    server.keepAliveTimeout = 60_000;
    const address = server.address();
    process.send?.({ port: typeof address === "object" && address ? address.port : 0 });
  });
  // The same Herd with the metrics plugin, as `herd serve` runs it: what do the metrics cost?
  const { MetricsPlugin } = await import("../src/plugins/metrics/index.js");
  const measured = await createHerd({
    provider: { name: "ollama", url: `http://127.0.0.1:${backend}` },
    embedder: { name: "hashing" },
    index: { name: "memory" },
    plugins: ["metrics"],
    concurrency: { generation: 256, queue: 4096 },
  });
  const metrics = measured.plugins.find((p) => p instanceof MetricsPlugin) as InstanceType<
    typeof MetricsPlugin
  >;
  const metricsServer = createApp(measured, { logger: { error: () => {} }, metrics }).listen(
    0,
    "127.0.0.1",
    () => {
      metricsServer.keepAliveTimeout = 60_000;
      const address = metricsServer.address();
      process.send?.({ metricsPort: typeof address === "object" && address ? address.port : 0 });
    },
  );
  const proxyPort = await startBareProxy(backend);
  process.send?.({ proxyPort });
} else {
  await main();
}

async function main(): Promise<void> {
  const at = process.argv.indexOf("--seconds");
  const seconds = at > 0 ? Number(process.argv[at + 1]) : 2;
  const self = fileURLToPath(import.meta.url);
  const children: ReturnType<typeof fork>[] = [];
  const spawn = (args: string[], keys: string[]) =>
    new Promise<Record<string, number>>((resolve, reject) => {
      const child = fork(self, args, {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      children.push(child);
      const got: Record<string, number> = {};
      child.on("message", (m: Record<string, number>) => {
        Object.assign(got, m);
        if (keys.every((k) => k in got)) resolve(got);
      });
      child.on("exit", (code) => reject(new Error(`bench child ${args.join(" ")} exited with ${code}`)));
    });
  try {
    const fast = (await spawn(["backend", "fast"], ["port"])).port!;
    const drip = (await spawn(["backend", "drip"], ["port"])).port!;
    const keys = ["port", "proxyPort", "stubPort", "metricsPort"];
    const facade = await spawn(["facade", String(fast)], keys);
    const dripFacade = await spawn(["facade", String(drip)], keys);

    const ollamaBody = (stream: boolean) =>
      JSON.stringify({
        model: "herd-code",
        messages: [{ role: "user", content: "Write a Python function that reverses a list." }],
        stream,
        options: { temperature: 0.5, top_k: 50, top_p: 1, repeat_penalty: 1 },
      });
    const openaiBody = (stream: boolean, model = "herd") =>
      JSON.stringify({
        model,
        messages: [{ role: "user", content: "Write a Python function that reverses a list." }],
        stream,
      });
    const targets = [
      { name: "backend directly", port: fast, path: "/api/chat", body: ollamaBody(true) },
      { name: "bare keep-alive proxy", port: facade.proxyPort!, path: "/api/chat", body: ollamaBody(true) },
      {
        name: "facade over a stub Herd",
        port: facade.stubPort!,
        path: "/v1/chat/completions",
        body: openaiBody(false),
      },
      {
        name: "herd, base (no routing)",
        port: facade.port!,
        path: "/v1/chat/completions",
        body: openaiBody(false, "llama3.2:3b"),
      },
      {
        name: "herd facade (JSON)",
        port: facade.port!,
        path: "/v1/chat/completions",
        body: openaiBody(false),
      },
      {
        name: "herd + metrics (JSON)",
        port: facade.metricsPort!,
        path: "/v1/chat/completions",
        body: openaiBody(false),
      },
      {
        name: "herd facade (stream)",
        port: facade.port!,
        path: "/v1/chat/completions",
        body: openaiBody(true),
      },
      {
        name: "herd + metrics (stream)",
        port: facade.metricsPort!,
        path: "/v1/chat/completions",
        body: openaiBody(true),
      },
    ];

    console.log(`facade overhead, fake Ollama on loopback, ${seconds} s per row (after 0.5 s warm-up)\n`);
    console.log(
      `${"path".padEnd(24)} ${"conc".padStart(4)} ${"req/s".padStart(8)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)}`,
    );
    const p50: Record<string, number> = {};
    for (const concurrency of [1, 16, 64]) {
      for (const target of targets) {
        const r = await load(target.port, target.path, target.body, concurrency, seconds * 1000);
        p50[`${target.name}@${concurrency}`] = r.p50;
        console.log(
          `${target.name.padEnd(24)} ${String(concurrency).padStart(4)} ${r.rps.toFixed(0).padStart(8)} ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}`,
        );
      }
      const added = p50[`herd facade (JSON)@${concurrency}`]! - p50[`backend directly@${concurrency}`]!;
      const overProxy =
        p50[`herd facade (JSON)@${concurrency}`]! - p50[`bare keep-alive proxy@${concurrency}`]!;
      const metricsCost =
        p50[`herd + metrics (JSON)@${concurrency}`]! - p50[`herd facade (JSON)@${concurrency}`]!;
      console.log(
        `  added p50 at concurrency ${concurrency}: ${added.toFixed(3)} ms over the backend, ${overProxy.toFixed(3)} ms over the bare proxy; metrics add ${metricsCost.toFixed(3)} ms\n`,
      );
    }

    const enginePorts = await spawn(["engines"], [...ENGINES]);
    const engineFacades = await spawn(["engine-facades", JSON.stringify(enginePorts)], [...ENGINES]);
    console.log(
      "engine providers: added p50 of `herd facade (JSON)` over calling each engine's stand-in directly\n",
    );
    console.log(
      `${"path".padEnd(24)} ${"conc".padStart(4)} ${"req/s".padStart(8)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)}`,
    );
    for (const concurrency of [1, 16]) {
      const lines: string[] = [];
      for (const kind of ENGINES) {
        const direct = await load(
          enginePorts[kind]!,
          "/v1/chat/completions",
          engineRequestBody(kind),
          concurrency,
          seconds * 1000,
        );
        const viaHerd = await load(
          engineFacades[kind]!,
          "/v1/chat/completions",
          openaiBody(false),
          concurrency,
          seconds * 1000,
        );
        for (const [name, r] of [
          [`${kind} directly`, direct],
          [`herd via ${kind}`, viaHerd],
        ] as const) {
          console.log(
            `${name.padEnd(24)} ${String(concurrency).padStart(4)} ${r.rps.toFixed(0).padStart(8)} ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}`,
          );
        }
        lines.push(`${kind} ${(viaHerd.p50 - direct.p50).toFixed(3)} ms`);
      }
      const ollama = p50[`herd facade (JSON)@${concurrency}`]! - p50[`backend directly@${concurrency}`]!;
      console.log(
        `  added p50 at concurrency ${concurrency}: ollama ${ollama.toFixed(3)} ms, ${lines.join(", ")}\n`,
      );
    }

    console.log(
      "time to first byte of a stream (backend sends its first token at once, the rest 20 ms later)",
    );
    const ttfbRows = [
      { name: "backend directly", port: drip, path: "/api/chat", body: ollamaBody(true) },
      {
        name: "bare keep-alive proxy",
        port: dripFacade.proxyPort!,
        path: "/api/chat",
        body: ollamaBody(true),
      },
      {
        name: "herd facade (stream)",
        port: dripFacade.port!,
        path: "/v1/chat/completions",
        body: openaiBody(true),
      },
    ];
    for (const row of ttfbRows) {
      const t = await firstByte(row.port, row.path, row.body, 200);
      console.log(`  ${row.name.padEnd(24)} p50 ${t.p50.toFixed(3)} ms  p99 ${t.p99.toFixed(3)} ms`);
    }
  } finally {
    for (const child of children) child.kill();
  }
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
}

/** Runs `concurrency` workers for `ms` milliseconds, each sending the next request when the last ended. */
async function load(
  port: number,
  path: string,
  body: string,
  concurrency: number,
  ms: number,
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const send = () => request(agent, port, path, body, false);
  const warmUntil = performance.now() + 500;
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
  return { rps: (latencies.length / elapsed) * 1000, ...percentiles(latencies) };
}

/** Time to the first body byte of `n` sequential streaming requests. */
async function firstByte(
  port: number,
  path: string,
  body: string,
  n: number,
): Promise<{ p50: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < 20; i++) await request(agent, port, path, body, true);
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
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
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
