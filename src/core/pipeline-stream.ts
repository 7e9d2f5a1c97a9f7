import type { ChatChunk, GenerationTarget } from "./chat.js";
import { ProviderResponseError } from "./errors.js";
import type { HerdResponse, HerdStream, RequestContext } from "./pipeline.js";
import { markReported, normalizeError } from "./pipeline-errors.js";
import type { PluginRunner } from "./plugin-runner.js";
import { ResponseCollector } from "./response-collector.js";
import type { RoutingDecision } from "./routing.js";
import { missingUsageWarning } from "./usage.js";

/**
 * The stream `Pipeline.stream` hands back: it already holds the provider's first chunk, runs
 * `onChunk` on each chunk, `onResponse` just before the finish chunk, and frees the concurrency slot
 * when the stream ends, fails, is broken out of, or is cancelled. A finish chunk without token usage
 * adds a warning naming the provider (usage is never filled in).
 */
export class PipelineStream implements HerdStream {
  private readonly collector = new ResponseCollector();
  private started = false;
  private settled = false;
  private response: HerdResponse | undefined;
  private error: unknown;

  constructor(
    private readonly ctx: RequestContext,
    private readonly plugins: PluginRunner,
    private readonly upstream: AsyncIterator<ChatChunk>,
    private readonly first: IteratorResult<ChatChunk>,
    private readonly release: () => void,
    private readonly controller: AbortController,
    /** The provider's registry name, named when it reports no token usage. */
    private readonly providerName: string,
  ) {
    // A caller that gives up before reading must not keep the concurrency slot.
    ctx.signal?.addEventListener("abort", () => this.started || this.finish(), { once: true });
  }

  get requestId(): string {
    return this.ctx.id;
  }

  get decision(): RoutingDecision {
    return this.ctx.decision!;
  }

  get target(): GenerationTarget {
    return this.ctx.chatRequest!.target;
  }

  get warnings(): readonly string[] {
    return this.ctx.warnings;
  }

  cancel(): void {
    // A stream that ended (read to its end, failed, or broken out of) has nothing left to stop.
    if (this.settled) return;
    this.controller.abort();
    if (!this.started) this.finish();
  }

  async collect(): Promise<HerdResponse> {
    for await (const _ of this) {
      // the chunks are folded into the response by the iterator
    }
    return this.response!;
  }

  [Symbol.asyncIterator](): AsyncIterator<ChatChunk> {
    if (this.started) throw new Error("A HerdStream can be iterated once.");
    this.started = true;
    return this.iterate();
  }

  private async *iterate(): AsyncGenerator<ChatChunk> {
    if (this.settled) throw normalizeError(new DOMException("cancelled", "AbortError"), this.ctx.signal);
    try {
      let step = this.first;
      while (!step.done) {
        const chunk = this.plugins.chunk(this.ctx, step.value);
        this.collector.add(chunk);
        if (chunk.type === "finish") await this.respond();
        yield chunk;
        step = await this.upstream.next();
      }
      if (this.collector.finishReason === undefined) {
        throw new ProviderResponseError(
          `Chat provider stream for "${this.target.model}" ended without a finish chunk; the provider is broken.`,
        );
      }
    } catch (error) {
      const normalized = normalizeError(error, this.ctx.signal);
      await this.plugins.error(this.ctx, normalized);
      this.error = normalized;
      throw markReported(normalized);
    } finally {
      this.finish();
    }
  }

  private async respond(): Promise<void> {
    const toolCalls = this.collector.toolCalls();
    this.ctx.warnings.push(...this.collector.warnings);
    // No counts from the backend: the answer says so rather than carrying made-up zeros.
    if (!this.collector.usage) this.ctx.warnings.push(missingUsageWarning(this.providerName));
    this.response = {
      text: this.collector.text,
      toolCalls,
      finishReason: this.collector.finishReason!,
      usage: this.collector.usage,
      model: this.target.model,
      decision: this.decision,
      warnings: this.ctx.warnings,
      durationMs: Date.now() - this.ctx.startedAt,
    };
    await this.plugins.response(this.ctx, this.response);
  }

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    this.release();
    this.plugins.end(
      this.ctx,
      this.error === undefined ? { response: this.response } : { error: this.error },
    );
    // Stops the provider's request when the caller broke out early; harmless once it has ended.
    void this.upstream.return?.()?.catch(() => undefined);
  }
}
