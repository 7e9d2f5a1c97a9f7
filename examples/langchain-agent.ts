/**
 * A LangChain agent (langchain's createAgent) that calls a tool, with HerdChatModel as its model:
 * the tool definitions and calls pass through Herd to the expert model chosen for the question.
 * A middleware forces the weather tool on the first turn (tool_choice naming it, which Herd enforces
 * by constrained decoding) and asks for a text answer once the tool has answered.
 *
 * Against Ollama with the expert models built (`herd build`): npx tsx examples/langchain-agent.ts
 * Offline, on the generated tiny llama.cpp model of `herd serve --demo`: npx tsx examples/langchain-agent.ts --demo
 * (the demo model has random weights: it calls the tool because it must, with gibberish arguments).
 */
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { createAgent, createMiddleware } from "langchain";
import { z } from "zod";
import { createDemoAssets, createHerd, type HerdConfigInput, routingOf } from "../src/index.js";
import { EXPERTS_DIR, type ExampleOptions, isMain } from "./shared.js";

/** A stand-in weather service, so the example needs no API key. */
const getWeather = tool(
  async ({ city }) => {
    const table: Record<string, string> = {
      tokyo: "11 degrees celsius, clear",
      paris: "7 degrees celsius, rain",
    };
    return table[city.toLowerCase()] ?? "no data for that city";
  },
  {
    name: "get_weather",
    description: "The current weather in a city",
    schema: z.object({ city: z.string().describe("The city name, e.g. Tokyo") }),
  },
);

/** First turn: the model must call get_weather. After the tool answered: a text answer, no more calls. */
const weatherFirst = createMiddleware({
  name: "WeatherFirst",
  wrapModelCall: (request, handler) => {
    const answered = request.messages.some((m) => ToolMessage.isInstance(m));
    return handler({
      ...request,
      toolChoice: answered ? "none" : { type: "function", function: { name: "get_weather" } },
    });
  },
});

/** Settings of the agent example. */
export interface AgentExampleOptions extends ExampleOptions {
  /** Run offline on the generated tiny llama.cpp model (`herd serve --demo`) instead of Ollama. @default false */
  demo?: boolean;
}

/** The offline demo's setup: a generated tiny model with one random LoRA per expert, via llama.cpp. */
async function demoConfig(expertsDir: string): Promise<HerdConfigInput> {
  const raw = JSON.parse(await readFile(join(expertsDir, "experts.json"), "utf8")) as {
    experts: { name: string; adapter: string }[];
  };
  const assets = await createDemoAssets(
    join(tmpdir(), "herd-demo"),
    raw.experts.map((e) => e.name),
  );
  return {
    expertsDir,
    experts: { ...raw, experts: raw.experts.map((e) => ({ ...e, adapter: assets.adapters[e.name]! })) },
    baseModel: "herd-demo-tiny-llama",
    embedder: { name: "hashing" },
    index: { name: "memory" },
    provider: { name: "llamacpp", modelPath: assets.modelPath },
  };
}

export async function main({
  ollamaUrl,
  log = console.log,
  demo = false,
  expertsDir = EXPERTS_DIR,
}: AgentExampleOptions = {}) {
  const herd = await createHerd(
    demo ? await demoConfig(expertsDir) : { expertsDir, provider: { name: "ollama", url: ollamaUrl } },
  );
  try {
    // The demo model writes random text: a token limit keeps its answers (and tool arguments) short.
    const model = herd.chatModel(demo ? { temperature: 0, maxTokens: 64 } : { temperature: 0 });
    const agent = createAgent({ model, tools: [getWeather], middleware: [weatherFirst] });
    const result = await agent.invoke({
      messages: [{ role: "user", content: "What's the weather in Tokyo right now?" }],
    });
    const toolCalls = result.messages.flatMap((m) =>
      "tool_calls" in m && Array.isArray(m.tool_calls) ? m.tool_calls : [],
    );
    const final = result.messages.at(-1)!;
    for (const call of toolCalls) log(`tool call: ${call.name}(${JSON.stringify(call.args)})`);
    log(`answer (${routingOf(final)?.model}): ${String(final.content)}`);
    return { answer: String(final.content), toolCalls, messages: result.messages };
  } finally {
    await herd.close();
  }
}

if (isMain(import.meta.url)) await main({ demo: process.argv.includes("--demo") });
