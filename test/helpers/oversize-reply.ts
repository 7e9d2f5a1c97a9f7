import type http from "node:http";
import { Readable } from "node:stream";
import { expect } from "vitest";
import { ReplyTooLargeError } from "../../src/core/errors.js";

/**
 * A JSON document of `bytes` bytes, `head` + "xxx..." + `tail`, produced as it is read, so a test
 * can offer a backend reply of hundreds of MiB without holding it.
 */
export function lazyJson(head: string, tail: string, bytes: number): Readable {
  let left = bytes - head.length - tail.length;
  let started = false;
  const piece = Buffer.alloc(64 * 1024, "x");
  return new Readable({
    read() {
      if (!started) {
        started = true;
        this.push(head);
      } else if (left > 0) {
        const n = Math.min(left, piece.length);
        left -= n;
        this.push(piece.subarray(0, n));
      } else {
        this.push(tail);
        this.push(null);
      }
    },
  });
}

/**
 * Pipes `body` into `res` and resolves, when the connection closes, with the bytes produced so far
 * (Infinity when all were sent): how much of an oversize reply Herd let in before closing it.
 */
export function sendCounting(res: http.ServerResponse, body: Readable): Promise<number> {
  let count = 0;
  body.on("data", (c: Buffer) => {
    count += c.length;
  });
  const closed = new Promise<number>((resolve) => {
    res.on("close", () => {
      resolve(res.writableFinished ? Number.POSITIVE_INFINITY : count);
      body.destroy();
    });
  });
  body.pipe(res);
  return closed;
}

/** The ReplyTooLargeError `call` fails with (the test fails if it succeeds or fails otherwise). */
export async function tooLarge(call: () => Promise<unknown>): Promise<ReplyTooLargeError> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ReplyTooLargeError);
  return error as ReplyTooLargeError;
}
