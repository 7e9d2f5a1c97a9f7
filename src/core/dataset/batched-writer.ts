import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";

/** Lines are batched into writes of about this many characters. */
const WRITE_BATCH = 64 * 1024;

/** An output file written as `<file>.partial` and renamed on success, in batches, with backpressure. */
export class BatchedFileWriter {
  private stream: WriteStream | undefined;
  private pending = "";

  constructor(readonly file: string) {}

  async write(line: string): Promise<void> {
    this.pending += line;
    if (this.pending.length >= WRITE_BATCH) await this.flush();
  }

  private async flush(): Promise<void> {
    this.stream ??= createWriteStream(`${this.file}.partial`);
    const text = this.pending;
    this.pending = "";
    if (text !== "" && !this.stream.write(text)) await once(this.stream, "drain");
  }

  async commit(): Promise<string> {
    await this.flush();
    const stream = this.stream!;
    await new Promise<void>((done, fail) =>
      stream.end((error?: Error | null) => (error ? fail(error) : done())),
    );
    await rename(`${this.file}.partial`, this.file);
    return this.file;
  }

  async discard(): Promise<void> {
    this.pending = "";
    if (!this.stream) return;
    this.stream.destroy();
    await rm(`${this.file}.partial`, { force: true });
  }
}
