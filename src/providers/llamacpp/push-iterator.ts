/**
 * Turns callbacks (push / end / fail) into an async iterable, buffering values the consumer has
 * not taken yet. Used to stream llama.cpp's `onTextChunk` callbacks.
 */
export class PushIterator<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private done = false;
  private error: { reason: unknown } | undefined;
  private wake: (() => void) | undefined;

  push(value: T): void {
    if (this.done) return;
    this.buffer.push(value);
    this.notify();
  }

  end(): void {
    this.done = true;
    this.notify();
  }

  fail(reason: unknown): void {
    if (this.done) return;
    this.error = { reason };
    this.done = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.buffer.length > 0) {
        yield this.buffer.shift()!;
        continue;
      }
      if (this.done) {
        if (this.error) throw this.error.reason;
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}
