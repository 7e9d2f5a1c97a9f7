import { describe, expect, it } from "vitest";
import { AbortError } from "../../../src/core/errors.js";
import { ContextPool } from "../../../src/providers/llamacpp/index.js";

function pool(maxSize: number, failFor?: string) {
  const log: string[] = [];
  let n = 0;
  const p = new ContextPool<{ key: string; id: number }>({
    maxSize,
    create: async (key) => {
      log.push(`create ${key}`);
      if (key === failFor) throw new Error(`cannot create ${key}`);
      return { key, id: n++ };
    },
    dispose: async (v) => {
      log.push(`dispose ${v.key}`);
    },
  });
  return { p, log };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("ContextPool", () => {
  it("reuses a value for the same key and evicts the least recently used idle one", async () => {
    const { p, log } = pool(2);
    for (const key of ["a", "b", "a", "c"]) (await p.acquire(key)).release();
    await tick();
    expect(log).toEqual(["create a", "create b", "dispose b", "create c"]);
    expect(p.keys()).toEqual(["a", "c"]);
    const lease = await p.acquire("a");
    expect(lease.created).toBe(false);
    lease.release();
  });

  it("serves one user per key at a time, in arrival order", async () => {
    const { p } = pool(2);
    const order: string[] = [];
    const first = await p.acquire("a");
    const second = p.acquire("a").then((l) => {
      order.push("second");
      return l;
    });
    const third = p.acquire("a").then((l) => {
      order.push("third");
      l.release();
    });
    await tick();
    expect(order).toEqual([]);
    first.release();
    (await second).release();
    await third;
    expect(order).toEqual(["second", "third"]);
  });

  it("is a hard cap: a new key waits while every value is in use, then replaces the idle one", async () => {
    const { p, log } = pool(1);
    const a = await p.acquire("a");
    let gotB = false;
    const b = p.acquire("b").then((l) => {
      gotB = true;
      return l;
    });
    await tick();
    expect(gotB).toBe(false);
    expect(p.size).toBe(1);
    a.release();
    (await b).release();
    expect(log).toEqual(["create a", "dispose a", "create b"]);
    expect(p.keys()).toEqual(["b"]);
  });

  it("a waiter for room that aborts gets an AbortError", async () => {
    const { p } = pool(1);
    const a = await p.acquire("a");
    const controller = new AbortController();
    const waiting = p.acquire("b", controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow(AbortError);
    a.release();
  });

  it("a waiter that aborts leaves the queue with an AbortError", async () => {
    const { p } = pool(1);
    const held = await p.acquire("a");
    const controller = new AbortController();
    const waiting = p.acquire("a", controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow(AbortError);
    held.release();
    (await p.acquire("a")).release();
  });

  it("a failed creation is not cached", async () => {
    const { p, log } = pool(2, "bad");
    await expect(p.acquire("bad")).rejects.toThrow("cannot create bad");
    await expect(p.acquire("bad")).rejects.toThrow("cannot create bad");
    expect(log).toEqual(["create bad", "create bad"]);
    expect(p.size).toBe(0);
  });

  it("close disposes idle values at once and busy ones on release", async () => {
    const { p, log } = pool(4);
    (await p.acquire("a")).release();
    const busy = await p.acquire("b");
    await p.close();
    expect(log).toContain("dispose a");
    expect(log).not.toContain("dispose b");
    busy.release();
    await tick();
    expect(log).toContain("dispose b");
    await expect(p.acquire("a")).rejects.toThrow(/closed/);
  });
});
