import type { ChatChunk } from "../core/chat.js";
import type { HerdRequest, HerdStream, StreamOptions } from "../core/pipeline.js";
import type { ServedHerd } from "./served-herd.js";

/**
 * Starts the `n` generations of one request (`n` > 1 asks for n choices), concurrently: the
 * pipeline's concurrency bound applies to each. With a seed, choice i uses seed + i, so the choices
 * differ yet the whole answer is reproducible. If one fails to start, the others are cancelled.
 */
export async function openChoiceStreams(
  herd: ServedHerd,
  request: HerdRequest,
  n: number,
  options: StreamOptions,
): Promise<HerdStream[]> {
  if (n === 1) return [await herd.stream(request, options)];
  const requests = Array.from({ length: n }, (_, i): HerdRequest => {
    const seed = request.params?.seed;
    const params = seed === undefined ? request.params : { ...request.params, seed: seed + i };
    // Choice 0 keeps the request id (the response's x-request-id); the others get their own.
    const { id, ...rest } = request;
    return i === 0 ? { ...request, params } : { ...rest, params };
  });
  const settled = await Promise.allSettled(requests.map((r) => herd.stream(r, options)));
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) {
    for (const s of settled) if (s.status === "fulfilled") s.value.cancel();
    throw (failed as PromiseRejectedResult).reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<HerdStream>).value);
}

/**
 * Reads several streams at once and yields their chunks as they come, each with its stream's index.
 * An error in one stream ends the whole iteration (the caller cancels the streams).
 */
export async function* mergeChoiceStreams(
  streams: readonly AsyncIterable<ChatChunk>[],
): AsyncGenerator<{ index: number; chunk: ChatChunk }> {
  const iterators = streams.map((s) => s[Symbol.asyncIterator]());
  const next = (index: number) => iterators[index]!.next().then((result) => ({ index, result }));
  const pending = new Map(iterators.map((_, i) => [i, next(i)]));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        continue;
      }
      pending.set(index, next(index));
      yield { index, chunk: result.value };
    }
  } finally {
    for (const iterator of iterators) void iterator.return?.()?.catch(() => undefined);
  }
}
