import type { ServerResponse } from "node:http";

/**
 * Writes server-sent events in the exact framing OpenAI clients parse: `data: <one-line JSON>\n\n`,
 * no `event:` lines, ending with `data: [DONE]\n\n`. Waits for the socket to drain when the client
 * reads slower than the backend writes, so a slow client holds back its own stream only. Events
 * ready at the same moment share one socket write.
 */
export class SseWriter {
  #closed = false;
  #corked = false;
  /** Sends what was written during this tick in one go (see write). */
  readonly #uncork = () => {
    this.#corked = false;
    this.res.uncork();
  };

  constructor(private readonly res: ServerResponse) {
    res.once("close", () => {
      this.#closed = true;
    });
    // A write racing a disconnect reports an error on the response; the client is gone, nothing to do.
    res.on("error", () => {
      this.#closed = true;
    });
  }

  /** True once the client has gone away (or the stream was ended). */
  get closed(): boolean {
    return this.#closed || this.res.destroyed;
  }

  /** Sends the status line and headers: 200, `text/event-stream`, no caching, no proxy buffering (added to `headers`). */
  open(headers: Record<string, string> = {}): void {
    headers["content-type"] = "text/event-stream; charset=utf-8";
    headers["cache-control"] = "no-cache";
    headers.connection = "keep-alive";
    headers["x-accel-buffering"] = "no";
    this.res.writeHead(200, headers);
    // Disable Nagle: each token goes out at once.
    this.res.socket?.setNoDelay(true);
  }

  /** Sends one event with `data` serialized as JSON. Resolves when the socket can take more. */
  send(data: unknown): Promise<void> {
    return this.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Sends `data: [DONE]` and ends the response. */
  done(): void {
    if (this.closed) return;
    this.res.end("data: [DONE]\n\n");
  }

  /** Ends the response without `[DONE]` (after an error event). */
  end(): void {
    if (!this.closed) this.res.end();
  }

  /**
   * Events that are ready in the same tick (several tokens from one backend read) leave in one
   * socket write: the response is corked until the next tick. A lone event still goes out at once.
   */
  private write(text: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.#corked) {
      this.#corked = true;
      this.res.cork();
      process.nextTick(this.#uncork);
    }
    if (this.res.write(text)) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        this.res.off("drain", finish);
        this.res.off("close", finish);
        resolve();
      };
      this.res.on("drain", finish);
      this.res.on("close", finish);
    });
  }
}
