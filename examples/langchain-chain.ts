/**
 * A LangChain chain on Herd: prompt | HerdChatModel | parser. Each question is answered by the
 * expert it is closest to, and the reply says which one and why.
 *
 * Run against Ollama with the expert models built (`herd build`): npx tsx examples/langchain-chain.ts
 */
import { StringOutputParser } from "@langchain/core/output_parsers";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { createHerd, routingOf } from "../src/index.js";
import { EXPERTS_DIR, type ExampleOptions, isMain } from "./shared.js";

export async function main({ ollamaUrl, log = console.log, expertsDir = EXPERTS_DIR }: ExampleOptions = {}) {
  const herd = await createHerd({
    expertsDir,
    provider: { name: "ollama", url: ollamaUrl },
    plugins: ["expert-override", "fallback"],
  });
  try {
    const model = herd.chatModel({ temperature: 0.2, maxTokens: 256 });
    const prompt = ChatPromptTemplate.fromMessages([
      ["system", "You are a concise assistant."],
      ["human", "{question}"],
    ]);

    // The routing decision rides on the model's message.
    const message = await prompt
      .pipe(model)
      .invoke({ question: "Write a Python function that reverses a string." });
    const routing = routingOf(message);
    log(
      `routed to ${routing?.experts.map((e) => `${e.name} (${e.weight.toFixed(2)})`).join(", ")} -> ${routing?.model}`,
    );
    log(String(message.content));

    // The same chain with a parser, streamed token by token.
    const chain = prompt.pipe(model).pipe(new StringOutputParser());
    let streamed = "";
    for await (const piece of await chain.stream({ question: "Write a haiku about autumn leaves." })) {
      streamed += piece;
    }
    log(streamed);
    return { answer: String(message.content), model: routing?.model, streamed };
  } finally {
    await herd.close();
  }
}

if (isMain(import.meta.url)) await main();
