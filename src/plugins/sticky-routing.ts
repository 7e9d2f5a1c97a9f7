import type { RequestContext } from "../core/pipeline.js";
import type { Plugin } from "../core/plugin.js";
import { LruMap } from "./lru-map.js";

/** Settings of the sticky-routing plugin. */
export interface StickyRoutingOptions {
  /** How much more similar (cosine) another expert must be to take a conversation over. @default 0.05 */
  margin?: number;
  /** Conversations remembered; the least recently active are forgotten first. @default 10000 */
  maxConversations?: number;
}

/**
 * Keeps a conversation with the expert that answered it before, unless another expert is more
 * similar by at least `margin`: follow-ups such as "and in Rust?" stay with the code expert.
 * Conversations are keyed by `request.metadata.conversationId`; requests without one are untouched.
 * Applies to single-expert decisions; blends and forced experts pass through (and are remembered).
 *
 * @example
 * createHerd({ plugins: [{ name: "sticky-routing", options: { margin: 0.1 } }] });
 * await herd.stream({ messages, metadata: { conversationId: "c-42" } });
 */
export class StickyRoutingPlugin implements Plugin {
  readonly name = "sticky-routing";
  private readonly margin: number;
  private readonly last: LruMap<string, string>;

  constructor(options: StickyRoutingOptions = {}) {
    this.margin = options.margin ?? 0.05;
    this.last = new LruMap(options.maxConversations ?? 10_000);
  }

  /** Conversations remembered right now. */
  get size(): number {
    return this.last.size;
  }

  afterRouting(ctx: RequestContext): void {
    const id = ctx.request.metadata?.conversationId;
    const decision = ctx.decision;
    if (!id || !decision) return;
    const top = decision.selected[0];
    if (!top) return;
    const previous = this.last.get(id);
    if (decision.reason === "routed" && decision.selected.length === 1 && previous && previous !== top.name) {
      const kept = decision.ranked.find((e) => e.name === previous);
      const expert = ctx.experts.experts.find((e) => e.name === previous);
      if (kept && expert && top.similarity - kept.similarity < this.margin) {
        ctx.decision = {
          ...decision,
          selected: [{ ...kept, weight: 1 }],
          model: expert.model,
          reason: "sticky",
        };
        return;
      }
    }
    this.last.set(id, top.name);
  }

  close(): void {
    this.last.clear();
  }
}
