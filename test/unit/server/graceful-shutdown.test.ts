import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { createApp } from "../../../src/server/app.js";
import { trackShutdown } from "../../../src/server/graceful-shutdown.js";
import { FakeHerd, textChunks } from "./fake-herd.js";

async function serve(herd: FakeHerd) {
  const server = createApp(herd).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const tracker = trackShutdown(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, tracker, url };
}

const streamBody = JSON.stringify({
  model: "herd",
  stream: true,
  messages: [{ role: "user", content: "hi" }],
});

describe("trackShutdown", () => {
  it("lets an in-flight stream finish, refuses new connections, then resolves", async () => {
    const herd = new FakeHerd(() => ({
      chunks: textChunks(Array.from({ length: 20 }, (_, i) => `t${i} `)),
      delayMs: 10,
    }));
    const { tracker, url } = await serve(herd);
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: streamBody,
    });
    expect(tracker.inFlight).toBe(1);
    const drained = tracker.drain(10_000);
    const text = await res.text();
    expect(text).toContain("t19 ");
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(await drained).toBe(true);
    expect(tracker.inFlight).toBe(0);
    await expect(fetch(`${url}/v1/models`)).rejects.toThrow();
  });

  it("cuts what is left after the timeout and says so", async () => {
    const herd = new FakeHerd(() => ({
      chunks: textChunks(Array.from({ length: 1000 }, () => "x")),
      delayMs: 10,
    }));
    const { tracker, url } = await serve(herd);
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: streamBody,
    });
    expect(await tracker.drain(50)).toBe(false);
    await expect(res.text()).rejects.toThrow();
    await expect.poll(() => herd.signals[0]?.aborted).toBe(true);
  });
});
