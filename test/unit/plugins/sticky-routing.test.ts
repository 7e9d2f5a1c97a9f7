import { describe, expect, it } from "vitest";
import { StickyRoutingPlugin } from "../../../src/plugins/sticky-routing.js";
import { pipelineWith, user } from "./helpers.js";

/** Similarities by message: "code" strongly code; "close" creative just ahead; "poem" creative far ahead. */
const sims = (text: string): Record<string, number> => {
  if (text === "code") return { code: 0.9, creative: 0.2, math: 0.1 };
  if (text === "close") return { code: 0.5, creative: 0.53, math: 0.1 };
  if (text === "poem") return { code: 0.2, creative: 0.9, math: 0.1 };
  return { code: 0.1, creative: 0.1, math: 0.9 };
};

describe("sticky-routing plugin", () => {
  it("keeps a conversation's expert when another wins by less than the margin", async () => {
    const { pipeline } = pipelineWith([new StickyRoutingPlugin({ margin: 0.05 })], sims);
    const meta = { metadata: { conversationId: "c1" } };
    expect((await pipeline.generate(user("code", meta))).model).toBe("herd-code");
    const followUp = await pipeline.generate(user("close", meta));
    expect(followUp.model).toBe("herd-code");
    expect(followUp.decision.reason).toBe("sticky");
    expect(followUp.decision.selected).toEqual([expect.objectContaining({ name: "code", weight: 1 })]);
  });

  it("switches when another expert wins by the margin or more, and remembers the new one", async () => {
    const { pipeline } = pipelineWith([new StickyRoutingPlugin({ margin: 0.05 })], sims);
    const meta = { metadata: { conversationId: "c1" } };
    await pipeline.generate(user("code", meta));
    const switched = await pipeline.generate(user("poem", meta));
    expect(switched.model).toBe("herd-creative");
    expect(switched.decision.reason).toBe("routed");
    expect((await pipeline.generate(user("close", meta))).model).toBe("herd-creative");
  });

  it("keeps conversations apart and ignores requests without a conversation id", async () => {
    const { pipeline } = pipelineWith([new StickyRoutingPlugin()], sims);
    await pipeline.generate(user("code", { metadata: { conversationId: "a" } }));
    expect((await pipeline.generate(user("close", { metadata: { conversationId: "b" } }))).model).toBe(
      "herd-creative",
    );
    expect((await pipeline.generate(user("close"))).model).toBe("herd-creative");
  });

  it("forgets the least recently active conversations beyond maxConversations", async () => {
    const plugin = new StickyRoutingPlugin({ maxConversations: 1 });
    const { pipeline } = pipelineWith([plugin], sims);
    await pipeline.generate(user("code", { metadata: { conversationId: "a" } }));
    await pipeline.generate(user("poem", { metadata: { conversationId: "b" } }));
    expect(plugin.size).toBe(1);
    expect(
      (await pipeline.generate(user("close", { metadata: { conversationId: "a" } }))).decision.reason,
    ).toBe("routed");
  });

  it("remembers forced experts, so a conversation that named one keeps it", async () => {
    const { pipeline } = pipelineWith([new StickyRoutingPlugin()], sims);
    const meta = { metadata: { conversationId: "c" } };
    await pipeline.generate(user("anything", { ...meta, expert: "creative" }));
    expect((await pipeline.generate(user("close", meta))).model).toBe("herd-creative");
    expect((await pipeline.generate(user("code", meta))).model).toBe("herd-code");
  });
});
