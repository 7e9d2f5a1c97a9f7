/**
 * Herd as a LangChain building block: a Runnable that routes each input with Herd and runs the
 * chain of the chosen expert, streaming its output. Here the chains are LangChain's fake chat
 * models, so it runs offline; in your app they are your real chains (RAG, tools, other models).
 *
 * Run: npx tsx examples/langchain-router.ts
 */
import { StringOutputParser } from "@langchain/core/output_parsers";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { createHerd, type HerdRouteMetadata } from "../src/index.js";
import { EXPERTS_DIR, type ExampleOptions, isMain } from "./shared.js";

/** A chain that answers in its own voice (a fake model that streams its one answer). */
function chain(answer: string) {
  const prompt = ChatPromptTemplate.fromMessages([["human", "{question}"]]);
  return prompt.pipe(new FakeListChatModel({ responses: [answer] })).pipe(new StringOutputParser());
}

export async function main({ ollamaUrl, log = console.log, expertsDir = EXPERTS_DIR }: ExampleOptions = {}) {
  // Routing only: the hashing embedder is offline; the chat backend is never called.
  const herd = await createHerd({ expertsDir, provider: { name: "ollama", url: ollamaUrl } });
  try {
    const router = herd.routeTo<{ question: string }, string>({
      code: chain("Here is the code you asked for."),
      creative: chain("Once upon a time..."),
      default: chain("A general answer."),
    });

    // invoke: the chosen chain's output.
    const answer = await router.invoke({ question: "Write a TypeScript function that debounces calls." });
    log(`code question -> ${answer}`);

    // stream: chunks come straight from the chosen chain; streamEvents shows the routing in the run's metadata.
    let streamed = "";
    let route: HerdRouteMetadata | undefined;
    for await (const event of router.streamEvents(
      { question: "Write a short poem about autumn rain." },
      { version: "v2" },
    )) {
      if (event.event === "on_chain_start" && event.name === "HerdRouterRunnable") {
        route = event.metadata.herd_route as HerdRouteMetadata;
      }
      if (event.event === "on_chain_stream" && event.name === "HerdRouterRunnable")
        streamed += event.data.chunk;
    }
    log(
      `poem -> ${streamed} (route ${route?.route}, ${route?.reason}, similarity ${route?.experts[0]?.similarity.toFixed(3)})`,
    );

    // No runnable for the chosen expert: the default route runs.
    const other = await router.invoke({ question: "How many moons does Jupiter have?" });
    log(`trivia -> ${other}`);
    return { answer, streamed, route, other };
  } finally {
    await herd.close();
  }
}

if (isMain(import.meta.url)) await main();
