/**
 * What the `herd serve` facade costs over a bare pass-through, side by side in the same run.
 *
 *     npx tsx bench/facade.ts [--seconds 1] [--rounds 5] [--no-portkey]
 *
 * A fast fake Ollama runs on loopback in one child process; the Herd facade (hashing embedder,
 * memory index, Ollama provider, routed) and a bare keep-alive pass-through proxy (http.request +
 * pipe: the practical ceiling for a Node facade) run in another; `@portkey-ai/gateway`, a general
 * Node LLM gateway (no routing), is installed into a temporary folder and runs in a third; this
 * process is the load generator (keep-alive, one request in flight per worker). A second Herd in
 * the facade process runs the metrics plugin as `herd serve` does ("herd + metrics" rows), so the
 * metrics' cost is printed next to the hot path. The engine providers have their own benchmark,
 * bench/facade-engines.ts. Each round runs every row for `--seconds`, in alternating order, and prints the ratios issue 13
 * asks for; the summary gives their median and range over the rounds. The machine is shared and
 * noisy: only same-run ratios mean something.
 */
import { fileURLToPath } from "node:url";
import {
  children,
  collector,
  firstByte,
  flag,
  type LoadRow,
  load,
  loadWithCpu,
  range,
  serveHerdApp,
} from "./facade-load.js";
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
  const provider = { name: "ollama" as const, url: `http://127.0.0.1:${process.argv[3]}` };
  const { herd, port } = await serveHerdApp(provider);
  // Routing decision cost: CPU per herd.route() over a few prompts (after warm-up).
  for (let i = 0; i < 500; i++) await herd.route(PROMPTS[i % PROMPTS.length]!);
  const n = 3000;
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) await herd.route(PROMPTS[i % PROMPTS.length]!);
  const used = process.cpuUsage(cpu);
  // The same Herd with the metrics plugin, as `herd serve` runs it: what do the metrics cost?
  const measured = await serveHerdApp(provider, ["metrics"]);
  process.send?.({ port, metricsPort: measured.port, routeUs: (used.user + used.system) / n });
} else if (role === "proxy") {
  process.send?.({ proxyPort: await startBareProxy(Number(process.argv[3])) });
} else {
  await main();
}

async function main(): Promise<void> {
  const seconds = flag("--seconds", 1);
  const rounds = flag("--rounds", 5);
  const procs = children(fileURLToPath(import.meta.url));
  const { spawn, pids } = procs;
  try {
    const fast = (await spawn(["backend", "fast"], ["port"])).port!;
    const facade = await spawn(["facade", String(fast)], ["port", "metricsPort", "routeUs"]);
    const proxy = await spawn(["proxy", String(fast)], ["proxyPort"]);
    const facadePid = pids[`facade ${fast}`]!;
    const proxyPid = pids[`proxy ${fast}`]!;
    const portkey = process.argv.includes("--no-portkey") ? { error: "--no-portkey" } : await startPortkey();
    if ("stop" in portkey) procs.adopt({ kill: portkey.stop });
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
    const rows: Record<string, LoadRow> = {
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
      herdMetrics: {
        name: "herd + metrics (JSON)",
        port: facade.metricsPort!,
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
    const { values: ratios, keep } = collector();
    for (let round = 0; round < rounds; round++) {
      const order = Object.keys(rows).filter((k) => k !== "direct");
      if (round % 2 === 1) order.reverse();
      const rps: Record<string, number> = {};
      const cpuUs: Record<string, number> = {};
      for (const key of order) {
        const pid = key.startsWith("herd") ? facadePid : key.startsWith("bare") ? proxyPid : 0;
        const result = await loadWithCpu(rows[key]!, 16, seconds * 1000, pid);
        rps[key] = result.rps;
        if (pid) cpuUs[key] = result.cpuUs;
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
      keep("metrics", rps.herdMetrics! / rps.herd!);
      keep("metricsCpu", cpuUs.herdMetrics! - cpuUs.herd!);
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
    console.log(
      `  herd + metrics plugin vs herd:      ${range(ratios.metrics!, 2)}x req/s, CPU ${range(ratios.metricsCpu!, 0)} us per request`,
    );
    if (ratios.portkey) {
      console.log(`  portkey gateway JSON c=16 vs bare:  ${range(ratios.portkey, 2)}x`);
      console.log(`  herd routed vs portkey gateway:     ${range(ratios.herdVsPortkey!, 2)}x`);
    }
  } finally {
    procs.stop();
  }
}
