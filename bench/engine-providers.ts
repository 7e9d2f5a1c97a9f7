/**
 * What each chat provider costs per request, apart from the facade and routing.
 *
 *     npx tsx bench/engine-providers.ts [--requests 2000]
 *
 * Runs the Ollama, vLLM, LoRAX and llama-server providers against fast loopback stand-ins of their
 * APIs (bench/facade-servers.ts, bench/engine-servers.ts) in this process, one request at a time,
 * streaming and not, and prints the mean time per request (after a warm-up round). The machine is
 * shared and noisy: compare rows of one run.
 */
import type { ChatProvider, ChatRequest } from "../src/core/chat.js";
import { LlamaServerChatProvider } from "../src/providers/chat/llama-server/index.js";
import { LoraxChatProvider } from "../src/providers/chat/lorax/index.js";
import { OllamaChatProvider } from "../src/providers/chat/ollama.js";
import { VllmChatProvider } from "../src/providers/chat/vllm/index.js";
import { startFakeEngine } from "./engine-servers.js";
import { startFakeOllama } from "./facade-servers.js";

const at = process.argv.indexOf("--requests");
const n = at > 0 ? Number(process.argv[at + 1]) : 2000;
const url = (port: number) => `http://127.0.0.1:${port}`;
const providers: Record<string, ChatProvider> = {
  ollama: new OllamaChatProvider({ baseUrl: url(await startFakeOllama("fast")) }),
  vllm: new VllmChatProvider({ url: url(await startFakeEngine("vllm")) }),
  lorax: new LoraxChatProvider({ url: url(await startFakeEngine("lorax")), adapterDir: "/data/adapters" }),
  "llama-server": new LlamaServerChatProvider({
    url: url(await startFakeEngine("llama-server")),
    experts: [{ expert: "code", file: "/models/code.gguf" }],
  }),
};
const request: ChatRequest = {
  target: { model: "herd-code", adapters: [{ expert: "code", scale: 1 }], base: false },
  messages: [{ role: "user", content: "Write a Python function that reverses a list." }],
  params: {},
};

console.log(`provider cost per request, fast stand-ins on loopback, ${n} sequential requests per row\n`);
console.log(`${"provider".padEnd(14)} ${"stream µs".padStart(10)} ${"json µs".padStart(10)}`);
for (const round of [0, 1]) {
  for (const [name, provider] of Object.entries(providers)) {
    const times: string[] = [];
    for (const stream of [true, false]) {
      const start = performance.now();
      for (let i = 0; i < n; i++) for await (const _ of provider.stream(request, { stream })) void _;
      times.push((((performance.now() - start) / n) * 1000).toFixed(1));
    }
    if (round === 1) console.log(`${name.padEnd(14)} ${times[0]!.padStart(10)} ${times[1]!.padStart(10)}`);
  }
}
console.log("\n(Ollama has no JSON mode in Herd: its provider always streams NDJSON.)");
process.exit(0);
