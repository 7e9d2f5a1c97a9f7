/**
 * A LangChain agent (langchain's createAgent) that calls a tool, with HerdChatModel as its model:
 * the tool definitions and calls pass through Herd to the expert model chosen for the question.
 *
 * Run against Ollama with the expert models built (`herd build`): npx tsx examples/langchain-agent.ts
 */
import { tool } from "@langchain/core/tools";
import { createAgent } from "langchain";
import { z } from "zod";
import { createHerd, routingOf } from "../src/index.js";
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

export async function main({ ollamaUrl, log = console.log }: ExampleOptions = {}) {
  const herd = await createHerd({ expertsDir: EXPERTS_DIR, provider: { name: "ollama", url: ollamaUrl } });
  try {
    const agent = createAgent({ model: herd.chatModel({ temperature: 0 }), tools: [getWeather] });
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

if (isMain(import.meta.url)) await main();
