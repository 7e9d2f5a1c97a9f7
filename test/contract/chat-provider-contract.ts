import { describe, expect, it } from "vitest";
import type {
  BlendResolver,
  ChatChunk,
  ChatProvider,
  ChatRequest,
  GenerationTarget,
  Usage,
} from "../../src/core/chat.js";
import { AbortError, HerdError } from "../../src/core/errors.js";
import type { ExpertSet } from "../../src/core/expert.js";
import type { RoutingDecision } from "../../src/core/routing.js";

/**
 * The one provider contract: every chat provider (Ollama, llama.cpp, vLLM, LoRAX, llama-server) runs
 * these cases through `describeChatProviderContract`. A harness says how to reach its backend and what
 * to observe there; the assertions are the same for all.
 */
export interface ContractHarness {
  /** Built lazily (after the backend is up). */
  provider: () => ChatProvider;
  /** The blend resolver this provider gets from the `auto` registry entry. */
  resolver: () => BlendResolver;
  experts: ExpertSet;
  /** A target the backend cannot serve, and a check of the error that must say so. */
  unknown: GenerationTarget;
  isUnknownError: (error: unknown) => boolean;
  /** What the last request asked the backend to run (adapter name, scales, merge). */
  lastSelection?: () => unknown;
  /** What `lastSelection` must be after a routed 0.75 code / 0.25 math blend. */
  expectedBlend?: unknown;
  /** Arms a backend failure inside the next stream. */
  failNextStream?: () => void;
  /** Holds the backend's streams open after the first event; returns the release. */
  holdStreams?: () => () => void;
  /** How many streams the backend saw cancelled. */
  cancelled?: () => number;
  /** max tokens small enough to cut the answer. @default 3 */
  maxTokens?: number;
  /** Run the log-probability case (the provider declares `logprobs` and the backend returns them). @default false */
  logprobs?: boolean;
  /**
   * The token counts the backend's last reply carried (`null`: it carried none). Without it (a real
   * engine) the case only checks that counts come back as whole numbers.
   */
  reportedUsage?: () => Usage | null;
}

const decision = (selected: { name: string; weight: number }[]): RoutingDecision => ({
  ranked: selected.map((s) => ({ ...s, distance: 1 - s.weight, similarity: s.weight })),
  selected: selected.map((s) => ({ ...s, distance: 1 - s.weight, similarity: s.weight })),
  model: "",
  strategy: "centroid",
  weighting: "inverse-distance",
  reason: "routed",
  embedder: "test",
  timings: { embedMs: 0, queryMs: 0, totalMs: 0 },
  warnings: [],
});

async function collect(stream: AsyncIterable<ChatChunk>): Promise<{ text: string; chunks: ChatChunk[] }> {
  const chunks: ChatChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return { text: chunks.map((c) => (c.type === "text" ? c.text : "")).join(""), chunks };
}

const finishOf = (chunks: ChatChunk[]) => chunks.filter((c) => c.type === "finish");

/** Registers the contract cases for one provider. */
export function describeChatProviderContract(name: string, h: ContractHarness): void {
  describe(`chat provider contract: ${name}`, () => {
    const target = (names: { name: string; weight: number }[]) => {
      const { warnings: _, ...t } = h
        .resolver()
        .resolve(decision(names), h.experts, h.provider().capabilities);
      return t;
    };
    const request = (over: Partial<ChatRequest> = {}): ChatRequest => ({
      target: target([{ name: "code", weight: 1 }]),
      messages: [{ role: "user", content: "Write a short poem about the sea." }],
      params: { maxTokens: 16, temperature: 0, seed: 7 },
      ...over,
    });

    it("streams text, then exactly one finish as the last chunk", async () => {
      const { text, chunks } = await collect(h.provider().stream(request()));
      expect(text.length).toBeGreaterThan(0);
      expect(finishOf(chunks)).toHaveLength(1);
      expect(chunks.at(-1)?.type).toBe("finish");
    });

    it("gives the same answer when the caller does not stream", async () => {
      const streamed = await collect(h.provider().stream(request()));
      const whole = await collect(h.provider().stream(request(), { stream: false }));
      expect(whole.text).toBe(streamed.text);
      expect(finishOf(whole.chunks)).toHaveLength(1);
    });

    it("passes on the backend's token counts exactly, streamed and not, and never makes one up", async () => {
      for (const stream of [true, false]) {
        const { chunks } = await collect(h.provider().stream(request(), { stream }));
        const finish = finishOf(chunks)[0] as Extract<ChatChunk, { type: "finish" }>;
        if (!h.reportedUsage) {
          expect(Number.isSafeInteger(finish.usage?.inputTokens), `stream: ${stream}`).toBe(true);
          expect(finish.usage!.inputTokens).toBeGreaterThan(0);
          expect(Number.isSafeInteger(finish.usage?.outputTokens)).toBe(true);
          continue;
        }
        const reported = h.reportedUsage();
        if (reported) expect(finish.usage, `stream: ${stream}`).toEqual(reported);
        else expect(finish, `stream: ${stream}`).not.toHaveProperty("usage");
      }
    });

    it("stops at max tokens with finish reason length", async () => {
      const n = h.maxTokens ?? 3;
      const full = await collect(
        h.provider().stream(request({ params: { maxTokens: 64, temperature: 0, seed: 7 } })),
      );
      const { text, chunks } = await collect(
        h.provider().stream(request({ params: { maxTokens: n, temperature: 0, seed: 7 } })),
      );
      const finish = finishOf(chunks)[0] as Extract<ChatChunk, { type: "finish" }>;
      expect(finish.finishReason).toBe("length");
      expect(full.text.startsWith(text)).toBe(true);
      expect(text.length).toBeLessThan(full.text.length);
      if (finish.usage) expect(finish.usage.outputTokens).toBeLessThanOrEqual(n);
    });

    it("cuts the answer before a stop sequence and leaves the stop text out", async () => {
      const params = { maxTokens: 24, temperature: 0, seed: 7 };
      const full = (await collect(h.provider().stream(request({ params })))).text;
      const at = Math.max(1, Math.floor(full.length / 2));
      const stop = full.slice(at, at + 3);
      expect(stop.length).toBe(3);
      const { text, chunks } = await collect(
        h.provider().stream(request({ params: { ...params, stop: [stop] } })),
      );
      expect(text).toBe(full.slice(0, full.indexOf(stop)));
      expect(finishOf(chunks)[0]).toMatchObject({ finishReason: "stop" });
    });

    it("calls a tool when asked and joins its arguments into JSON (or says it cannot)", async () => {
      const tools = [
        {
          name: "search_docs",
          description: "Search the docs",
          // An enum keeps a constrained-decoding backend's call short whatever the model (the
          // random test model would otherwise write a string until max_tokens cuts it off).
          parameters: {
            type: "object",
            properties: { query: { type: "string", enum: ["routing", "adapters"] } },
            required: ["query"],
          },
        },
      ];
      const r = request({
        tools,
        toolChoice: "required",
        params: { maxTokens: 64, temperature: 0, seed: 7 },
      });
      if (!h.provider().capabilities.tools) {
        await expect(collect(h.provider().stream(r))).rejects.toThrow(/tools/);
        return;
      }
      const { chunks } = await collect(h.provider().stream(r));
      const calls = chunks.filter((c) => c.type === "tool-call");
      expect(calls.length).toBeGreaterThan(0);
      expect(calls[0]).toMatchObject({ index: 0, name: "search_docs" });
      const args = calls.map((c) => (c as { argumentsDelta: string }).argumentsDelta).join("");
      expect(JSON.parse(args)).toMatchObject({ query: expect.any(String) });
      expect(finishOf(chunks)[0]).toMatchObject({ finishReason: "tool_calls" });
    });

    it("a named tool choice calls that tool, not the first one offered (if it enforces forced choices)", async () => {
      if (!h.provider().capabilities.forcedToolChoice) return; // the pipeline answers 400 instead
      const tool = (name: string) => ({
        name,
        // An enum keeps a constrained call short whatever the model (see the case above).
        parameters: {
          type: "object",
          properties: { query: { type: "string", enum: ["routing", "adapters"] } },
          required: ["query"],
        },
      });
      const { chunks } = await collect(
        h.provider().stream(
          request({
            tools: [tool("search_docs"), tool("get_weather")],
            toolChoice: { name: "get_weather" },
            params: { maxTokens: 64, temperature: 0, seed: 7 },
          }),
        ),
      );
      const named = chunks.filter((c) => c.type === "tool-call" && c.name);
      expect(named.map((c) => (c as { name: string }).name)).toEqual(["get_weather"]);
      expect(finishOf(chunks)[0]).toMatchObject({ finishReason: "tool_calls" });
    });

    it.runIf(h.logprobs === true)(
      "returns each generated token's log-probability with at most top_logprobs alternatives",
      async () => {
        expect(h.provider().capabilities.logprobs).toBe(true);
        for (const stream of [true, false]) {
          const r = request({
            params: { maxTokens: 16, temperature: 0, seed: 7, logprobs: true, topLogprobs: 2 },
          });
          const { text, chunks } = await collect(h.provider().stream(r, { stream }));
          const logprobs = chunks.flatMap((c) => (c.type === "text" ? (c.logprobs ?? []) : []));
          expect(logprobs.length).toBeGreaterThan(0);
          expect(logprobs.map((l) => l.token).join("")).toBe(text);
          for (const l of logprobs) {
            expect(l.logprob).toBeLessThanOrEqual(0);
            expect(l.topLogprobs?.length ?? 0).toBeLessThanOrEqual(2);
          }
        }
      },
    );

    it("aborts: the stream throws AbortError and the backend request is cancelled", async () => {
      const release = h.holdStreams?.();
      const before = h.cancelled?.() ?? 0;
      const controller = new AbortController();
      const iterator = h
        .provider()
        .stream(request({ params: { maxTokens: 4096, temperature: 0, seed: 7 } }), {
          signal: controller.signal,
        })
        [Symbol.asyncIterator]();
      try {
        await iterator.next();
        controller.abort();
        await expect(
          (async () => {
            for (;;) if ((await iterator.next()).done) return "ended";
          })(),
        ).rejects.toBeInstanceOf(AbortError);
      } finally {
        release?.();
      }
      if (h.cancelled) await expect.poll(() => h.cancelled!()).toBeGreaterThan(before);
    });

    it("names what is missing when the backend cannot serve the target", async () => {
      const error = await collect(h.provider().stream(request({ target: h.unknown }))).catch(
        (e: unknown) => e,
      );
      expect(HerdError.isInstance(error)).toBe(true);
      expect(h.isUnknownError(error)).toBe(true);
    });

    it.runIf(h.failNextStream !== undefined)(
      "turns a failure inside the stream into a Herd error",
      async () => {
        h.failNextStream!();
        const error = await collect(h.provider().stream(request())).catch((e: unknown) => e);
        expect(HerdError.isInstance(error)).toBe(true);
        expect((error as HerdError).status).toBeGreaterThanOrEqual(500);
      },
    );

    it("generates with a routed two-expert blend, sent the way the backend blends", async () => {
      const blend = target([
        { name: "code", weight: 0.75 },
        { name: "math", weight: 0.25 },
      ]);
      const { text, chunks } = await collect(h.provider().stream(request({ target: blend })));
      expect(text.length).toBeGreaterThan(0);
      expect(finishOf(chunks)).toHaveLength(1);
      if (h.lastSelection) expect(h.lastSelection()).toEqual(h.expectedBlend);
    });
  });
}
