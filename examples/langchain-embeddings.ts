/**
 * Any LangChain Embeddings as Herd's embedder: `embedder: { name: "langchain", embeddings }`.
 * Swap the small offline class below for OllamaEmbeddings (@langchain/ollama), OpenAIEmbeddings
 * (@langchain/openai) or any other; Herd builds and stores centroids for it in its own folder.
 *
 * Run: npx tsx examples/langchain-embeddings.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Embeddings } from "@langchain/core/embeddings";
import { createHerd, Router } from "../src/index.js";
import { EXPERTS_DIR, type ExampleOptions, isMain } from "./shared.js";

/** Deterministic, offline embeddings: a bag of hashed words (FakeEmbeddings-like, but they route). */
class BagOfWordsEmbeddings extends Embeddings {
  readonly model = "bag-of-words-256";

  constructor() {
    super({});
  }

  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((text) => this.vector(text));
  }

  async embedQuery(text: string): Promise<number[]> {
    return this.vector(text);
  }

  private vector(text: string): number[] {
    const v = new Array<number>(256).fill(0);
    for (const word of text.toLowerCase().match(/[a-z]{3,}/g) ?? []) {
      let h = 2166136261;
      for (const c of word) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
      v[(h >>> 0) % 256]! += 1;
    }
    return v;
  }
}

export async function main({ ollamaUrl, log = console.log, expertsDir = EXPERTS_DIR }: ExampleOptions = {}) {
  // Centroids are stored per embedder id; a temporary folder keeps this example from writing into experts/.
  const centroidsDir = await mkdtemp(join(tmpdir(), "herd-langchain-embeddings-"));
  const herd = await createHerd({
    expertsDir,
    centroidsDir,
    embedder: { name: "langchain", embeddings: new BagOfWordsEmbeddings() },
    provider: { name: "ollama", url: ollamaUrl },
  });
  try {
    const code = await herd.route("Fix the bug in this Python function that parses JSON");
    const story = await herd.route("Write a story about a dragon who sings songs");
    const folder = herd.router instanceof Router ? herd.router.centroidsFolder : undefined;
    log(`embedder ${herd.embedder.id}; centroids in ${folder}`);
    log(`debugging question -> ${code.selected[0]?.name}, story -> ${story.selected[0]?.name}`);
    return {
      embedder: herd.embedder.id,
      folder,
      code: code.selected[0]?.name,
      story: story.selected[0]?.name,
    };
  } finally {
    await herd.close();
    await rm(centroidsDir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await main();
