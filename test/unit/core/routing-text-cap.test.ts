import { describe, expect, it } from "vitest";
import type { Embedder } from "../../../src/core/embedder.js";
import { ConfigError } from "../../../src/core/errors.js";
import type { ExpertSet } from "../../../src/core/expert.js";
import { Router } from "../../../src/core/router.js";
import { capText, routingText } from "../../../src/core/routing-text.js";
import { HashingEmbedder } from "../../../src/providers/embedders/hashing.js";
import { MemoryIndex } from "../../../src/providers/indexes/memory.js";

/** The hashing embedder, recording the length of every text it is asked to embed. */
class RecordingEmbedder implements Embedder {
  readonly inner = new HashingEmbedder();
  readonly id = this.inner.id;
  readonly lengths: number[] = [];
  readonly texts: string[] = [];
  dimension() {
    return this.inner.dimension();
  }
  embed(texts: readonly string[]) {
    for (const t of texts) {
      this.lengths.push(t.length);
      this.texts.push(t);
    }
    return this.inner.embed(texts);
  }
}

const expert = (name: string, examples: string[]) => ({
  name,
  description: "",
  categories: [],
  adapter: "a",
  model: `herd-${name}`,
  examples,
});
const experts: ExpertSet = {
  baseModel: "base",
  experts: [
    expert("code", ["write a python function", "fix this javascript bug"]),
    expert("creative", ["write a poem about the sea", "a haiku about autumn"]),
  ],
};

describe("the routing text cap", () => {
  it("embeds only the first and last 4,000 characters of a 4 MB prompt, for every text mode", async () => {
    const huge = `Write a poem about the sea. ${"filler words ".repeat(320_000)} End with a haiku about autumn.`;
    expect(huge.length).toBeGreaterThan(4_000_000);
    for (const textMode of ["last-user", "all-user", "all"] as const) {
      const embedder = new RecordingEmbedder();
      const router = new Router({ experts, embedder, index: new MemoryIndex(), options: { textMode } });
      await router.prepare();
      embedder.lengths.length = 0;
      embedder.texts.length = 0;
      const decision = await router.route([
        { role: "system", content: "You are helpful." },
        { role: "user", content: huge },
      ]);
      expect(decision.reason).toBe("routed");
      expect(embedder.lengths).toEqual([8_001]);
      expect(
        embedder.texts[0]!.startsWith(textMode === "all" ? "You are helpful.\nWrite a poem" : "Write a poem"),
      ).toBe(true);
      expect(embedder.texts[0]!.endsWith("End with a haiku about autumn.")).toBe(true);
    }
  });

  it("leaves short texts alone and takes its size from the router options", async () => {
    const embedder = new RecordingEmbedder();
    const router = new Router({
      experts,
      embedder,
      index: new MemoryIndex(),
      options: { maxTextChars: 100 },
    });
    await router.prepare();
    embedder.lengths.length = 0;
    await router.route("a haiku about autumn");
    await router.route("x".repeat(10_000));
    expect(embedder.lengths).toEqual(["a haiku about autumn".length, 101]);
    expect(
      () => new Router({ experts, embedder, index: new MemoryIndex(), options: { maxTextChars: 0 } }),
    ).toThrow(ConfigError);
  });

  it("never splits a surrogate pair", () => {
    const capped = capText("😀".repeat(100), 11);
    expect(capped).toBe(`${"😀".repeat(2)}\n${"😀".repeat(3)}`);
    expect(routingText("😀".repeat(5), "last-user", 4)).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });
});
