import type { ChatChunk } from "../core/chat.js";
import type { HerdRequest, HerdStream, StreamOptions } from "../core/pipeline.js";
import type { ServedHerd } from "./served-herd.js";

/**
 * The `n` generations of one request (`n` > 1 asks for n choices). All start at once and run as the
 * pipeline's concurrency bound (and a provider's own limits, e.g. one llama.cpp context per adapter
 * set) allow; the answer is read from all of them as chunks come. With a seed, choice i uses
 * seed + i, so the choices differ yet the whole answer is reproducible.
 */
export class ChoiceStreams {
  /** Choice 0, already open: its routing decision and target describe the response. */
  readonly first: HerdStream;
  private readonly pending: Promise<HerdStream>[];
  private readonly opened: HerdStream[];

  private constructor(first: HerdStream, pending: Promise<HerdStream>[]) {
    this.first = first;
    this.pending = pending;
    this.opened = [first];
    for (const p of pending) p.then((s) => this.opened.push(s)).catch(() => undefined);
  }

  /**
   * Starts the n generations and resolves when choice 0 has its first chunk, so errors before
   * streaming (bad request, model missing) reject here. A later choice that fails to start fails
   * the answer when it is read. Choice 0 keeps the request id (the response's x-request-id).
   */
  static async open(
    herd: ServedHerd,
    request: HerdRequest,
    n: number,
    options: StreamOptions,
  ): Promise<ChoiceStreams> {
    const seed = request.params?.seed;
    const { id: _, ...rest } = request;
    const started = Array.from({ length: n }, (_, i) => {
      const params = seed === undefined ? request.params : { ...request.params, seed: seed + i };
      return herd.stream(i === 0 ? { ...request, params } : { ...rest, params }, options);
    });
    for (const p of started) p.catch(() => undefined);
    try {
      return new ChoiceStreams(await started[0]!, started.slice(1));
    } catch (error) {
      for (const p of started.slice(1)) p.then((s) => s.cancel()).catch(() => undefined);
      throw error;
    }
  }

  get count(): number {
    return this.pending.length + 1;
  }

  /** The warnings of every choice opened so far, without repeats. */
  get warnings(): string[] {
    return [...new Set(this.opened.flatMap((s) => s.warnings))];
  }

  /** Stops every generation (the ones still starting, once they start). */
  cancel(): void {
    this.first.cancel();
    for (const p of this.pending) p.then((s) => s.cancel()).catch(() => undefined);
  }

  /**
   * Yields every choice's chunks as they come, each with its choice index. An error in one choice
   * ends the iteration (the caller cancels the rest).
   */
  async *merge(): AsyncGenerator<{ index: number; chunk: ChatChunk }> {
    const streams: Promise<AsyncIterable<ChatChunk>>[] = [Promise.resolve(this.first), ...this.pending];
    const iterators: (AsyncIterator<ChatChunk> | undefined)[] = [];
    const next = async (index: number) => {
      iterators[index] ??= (await streams[index]!)[Symbol.asyncIterator]();
      return { index, result: await iterators[index]!.next() };
    };
    const waiting = new Map(streams.map((_, i) => [i, next(i)]));
    try {
      while (waiting.size > 0) {
        const { index, result } = await Promise.race(waiting.values());
        if (result.done) {
          waiting.delete(index);
          continue;
        }
        waiting.set(index, next(index));
        yield { index, chunk: result.value };
      }
    } finally {
      for (const p of waiting.values()) p.catch(() => undefined);
      for (const iterator of iterators) void iterator?.return?.()?.catch(() => undefined);
    }
  }
}
