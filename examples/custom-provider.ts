/**
 * Swapping Herd's parts without touching Herd: every part is bound to a token in an inversify
 * container, and any token can be rebound. Two ways shown here:
 *  1. rebind TOKENS.ChatProvider to a wrapper that meters the configured provider (Ollama);
 *  2. register a provider under a name, and pick it in the config like a built-in one.
 *
 * Run against Ollama with the expert models built (`herd build`): npx tsx examples/custom-provider.ts
 */
import {
  type ChatCallOptions,
  type ChatChunk,
  type ChatProvider,
  type ChatRequest,
  createHerd,
  defaultRegistries,
  TOKENS,
} from "../src/index.js";
import { EXPERTS_DIR, type ExampleOptions, isMain } from "./shared.js";

/** Wraps any chat provider and counts requests and output tokens per model. */
export class MeteredProvider implements ChatProvider {
  readonly name: string;
  readonly usage = new Map<string, { requests: number; outputTokens: number }>();

  constructor(private readonly inner: ChatProvider) {
    this.name = `metered-${inner.name}`;
  }

  get capabilities() {
    return this.inner.capabilities;
  }

  async *stream(request: ChatRequest, options?: ChatCallOptions): AsyncGenerator<ChatChunk> {
    const entry = this.usage.get(request.target.model) ?? { requests: 0, outputTokens: 0 };
    entry.requests++;
    this.usage.set(request.target.model, entry);
    for await (const chunk of this.inner.stream(request, options)) {
      if (chunk.type === "finish") entry.outputTokens += chunk.usage?.outputTokens ?? 0;
      yield chunk;
    }
  }

  health(): Promise<void> {
    return this.inner.health();
  }
}

/** A provider that answers from templates: handy for demos and tests without a model. */
export class TemplateProvider implements ChatProvider {
  readonly name = "template";
  readonly capabilities = { nativeBlend: false, tools: false, jsonSchema: false };

  async *stream(request: ChatRequest): AsyncGenerator<ChatChunk> {
    const question = request.messages.at(-1)?.content ?? "";
    yield { type: "text", text: `(${request.target.model}) You asked: ${question}` };
    yield { type: "finish", finishReason: "stop" };
  }

  async health(): Promise<void> {}
}

export async function main({ ollamaUrl, log = console.log, expertsDir = EXPERTS_DIR }: ExampleOptions = {}) {
  // 1. Rebinding: wrap whatever provider the config chose.
  let metered: MeteredProvider | undefined;
  const herd = await createHerd(
    { expertsDir, provider: { name: "ollama", url: ollamaUrl } },
    {
      configure: (container) => {
        metered = new MeteredProvider(container.get<ChatProvider>(TOKENS.ChatProvider));
        container.rebind<ChatProvider>(TOKENS.ChatProvider).toConstantValue(metered);
      },
    },
  );
  try {
    await herd.generate({
      messages: [{ role: "user", content: "Write a Python function that reverses a string." }],
    });
    await herd.generate({ messages: [{ role: "user", content: "Write a haiku about autumn leaves." }] });
    for (const [model, u] of metered!.usage)
      log(`${model}: ${u.requests} request(s), ${u.outputTokens} output tokens`);
  } finally {
    await herd.close();
  }

  // 2. Registering by name: the config picks it like "ollama" or "llamacpp".
  const registries = defaultRegistries();
  registries.chatProviders.register("template", () => new TemplateProvider());
  const offline = await createHerd({ expertsDir, provider: { name: "template" } }, { registries });
  try {
    const answer = await offline.generate({
      messages: [{ role: "user", content: "Prove that 17 is prime." }],
    });
    log(answer.text);
    return { usage: Object.fromEntries(metered!.usage), templateAnswer: answer.text };
  } finally {
    await offline.close();
  }
}

if (isMain(import.meta.url)) await main();
