/**
 * What `herd serve` adds in front of each engine provider, next to the Ollama path.
 *
 *     npx tsx bench/facade-engines.ts [--seconds 1] [--rounds 3]
 *
 * One child process runs fast loopback stand-ins of Ollama, vLLM, LoRAX and llama-server
 * (bench/facade-servers.ts, bench/engine-servers.ts: precomputed replies, so the rows compare what
 * Herd and each provider add); another runs one routed Herd facade per provider (hashing embedder,
 * memory index); this process is the load generator. Each round, in alternating provider order:
 * c=16 JSON to the backend directly and through Herd, c=16 streaming through Herd, and c=1 JSON
 * both ways. Prints per provider the added p50 at c=1, the req/s ratio to the backend directly,
 * and the facade's CPU per request (JSON and streaming), as medians (ranges) over the rounds. The
 * machine is shared and noisy: compare rows of one run.
 */
import { fileURLToPath } from "node:url";
import { ENGINES, type EngineKind, engineRequestBody, startFakeEngine } from "./engine-servers.js";
import {
  children,
  collector,
  flag,
  type LoadRow,
  load,
  loadWithCpu,
  range,
  serveHerdApp,
} from "./facade-load.js";
import { startFakeOllama } from "./facade-servers.js";

type ProviderKind = "ollama" | EngineKind;
const PROVIDERS: readonly ProviderKind[] = ["ollama", ...ENGINES];
const PROMPT = "Write a Python function that reverses a list.";

const role = process.argv[2];
if (role === "backends") {
  const ports: Record<string, number> = { ollama: await startFakeOllama("fast") };
  for (const kind of ENGINES) ports[kind] = await startFakeEngine(kind);
  process.send?.(ports);
} else if (role === "facades") {
  const ports = JSON.parse(process.argv[3]!) as Record<ProviderKind, number>;
  for (const kind of PROVIDERS) {
    const url = `http://127.0.0.1:${ports[kind]}`;
    const provider =
      kind === "lorax" ? { name: kind, url, adapterDir: "/data/adapters" } : { name: kind, url };
    process.send?.({ [kind]: (await serveHerdApp(provider)).port });
  }
} else {
  await main();
}

/** A direct request to a backend: Ollama's /api/chat or the engine's /v1/chat/completions. */
function directRow(kind: ProviderKind, port: number, stream: boolean): LoadRow {
  if (kind !== "ollama")
    return {
      name: `${kind} directly`,
      port,
      path: "/v1/chat/completions",
      body: engineRequestBody(kind, stream),
    };
  const body = JSON.stringify({
    model: "herd-code",
    messages: [{ role: "user", content: PROMPT }],
    stream,
    options: { temperature: 0.5, top_k: 50, top_p: 1, repeat_penalty: 1 },
  });
  return { name: "ollama directly", port, path: "/api/chat", body };
}

function herdRow(kind: ProviderKind, port: number, stream: boolean): LoadRow {
  const body = JSON.stringify({ model: "herd", messages: [{ role: "user", content: PROMPT }], stream });
  return { name: `herd via ${kind}`, port, path: "/v1/chat/completions", body };
}

async function main(): Promise<void> {
  const seconds = flag("--seconds", 1);
  const rounds = flag("--rounds", 3);
  const ms = seconds * 1000;
  const procs = children(fileURLToPath(import.meta.url));
  try {
    const backends = await procs.spawn(["backends"], PROVIDERS);
    const args = ["facades", JSON.stringify(backends)];
    const facades = await procs.spawn(args, PROVIDERS);
    const facadePid = procs.pids[args.join(" ")]!;
    console.log(
      `herd serve over each provider vs its backend directly, fast stand-ins on loopback; ${rounds} rounds, ${seconds} s per row\n`,
    );
    const { values, keep } = collector();
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 ? [...PROVIDERS].reverse() : [...PROVIDERS];
      const line: string[] = [];
      for (const kind of order) {
        const direct = directRow(kind, backends[kind]!, false);
        const herd = herdRow(kind, facades[kind]!, false);
        const d16 = await load(direct, 16, ms);
        const h16 = await loadWithCpu(herd, 16, ms, facadePid);
        const s16 = await loadWithCpu(herdRow(kind, facades[kind]!, true), 16, ms, facadePid);
        const c1 = { direct: 0, herd: 0 };
        for (const key of round % 2 ? (["herd", "direct"] as const) : (["direct", "herd"] as const)) {
          c1[key] = (await load(key === "herd" ? herd : direct, 1, ms)).p50;
        }
        keep(`${kind} p50`, c1.herd - c1.direct);
        keep(`${kind} ratio`, h16.rps / d16.rps);
        keep(`${kind} cpu`, h16.cpuUs);
        keep(`${kind} stream cpu`, s16.cpuUs);
        line.push(
          `${kind} c=1 +${(c1.herd - c1.direct).toFixed(3)} ms, c=16 ${h16.rps.toFixed(0)}/${d16.rps.toFixed(0)} req/s`,
        );
      }
      console.log(`round ${round + 1}: ${line.join("; ")}`);
    }
    console.log("\nmedian (range) over the rounds");
    console.log(
      `${"provider".padEnd(14)} ${"c=1 added p50 ms".padEnd(22)} ${"c=16 herd/direct".padEnd(20)} ${"herd CPU/req JSON us".padEnd(22)} stream us`,
    );
    for (const kind of PROVIDERS) {
      console.log(
        `${kind.padEnd(14)} ${range(values[`${kind} p50`]!, 3).padEnd(22)} ${`${range(values[`${kind} ratio`]!, 2)}x`.padEnd(20)} ${range(values[`${kind} cpu`]!, 0).padEnd(22)} ${range(values[`${kind} stream cpu`]!, 0)}`,
      );
    }
  } finally {
    procs.stop();
  }
}
