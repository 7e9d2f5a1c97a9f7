/**
 * The chat hot path: Herd's lean Ollama provider (keep-alive http.request, one NDJSON parser) vs the
 * official `ollama` client's chat stream, against the fast fake Ollama on loopback. Prints the mean
 * time per streamed request and requests per second for each, sequential and 16 at a time.
 *
 * npx tsx bench/ollama-client.ts
 */
import { Ollama } from "ollama";
import { OllamaChatProvider } from "../src/providers/chat/ollama.js";
import { startFakeOllama } from "./facade-servers.js";

const port = await startFakeOllama("fast");
const host = `http://127.0.0.1:${port}`;
const messages = [{ role: "user" as const, content: "Route me" }];
const lean = new OllamaChatProvider({ baseUrl: host });
const official = new Ollama({ host });

async function viaLean(): Promise<number> {
  let n = 0;
  for await (const chunk of lean.stream({
    target: { model: "herd-bench", adapters: [], base: false },
    messages,
    params: {},
  }))
    if (chunk.type === "text") n += chunk.text.length;
  return n;
}

async function viaOfficial(): Promise<number> {
  let n = 0;
  for await (const part of await official.chat({ model: "herd-bench", messages, stream: true }))
    n += part.message.content.length;
  return n;
}

async function measure(name: string, run: () => Promise<number>, total: number, parallel: number) {
  for (let i = 0; i < 200; i++) await run(); // warm up
  const start = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (done < total) {
        done++;
        await run();
      }
    }),
  );
  const ms = performance.now() - start;
  console.log(
    `${name.padEnd(28)} parallel ${String(parallel).padStart(2)}: ${((ms / total) * 1000).toFixed(0).padStart(5)} us/request, ${((total / ms) * 1000).toFixed(0)} req/s`,
  );
}

for (const parallel of [1, 16]) {
  await measure("lean provider (Herd)", viaLean, 3000, parallel);
  await measure("official ollama client", viaOfficial, 3000, parallel);
}
process.exit(0);
