import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../src/server/app.js";
import { listen } from "../../helpers/listen.js";
import { FakeHerd, textChunks } from "./fake-herd.js";

describe("concurrent streams", () => {
  // Each request's tokens name the request, with 1-3 ms between tokens so the streams interleave.
  const herd = new FakeHerd((request) => {
    const id = request.messages.at(-1)!.content;
    return {
      chunks: textChunks(Array.from({ length: 20 }, (_, t) => `<${id}:${t}>`)),
      delayMs: 1 + (id.length % 3),
    };
  });
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    server = await listen(createApp(herd));
  });
  afterAll(() => server.close());

  it("gives each of 50 simultaneous streams exactly its own tokens, in order", async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `request-${i}${"x".repeat(i % 3)}`);
    const texts = await Promise.all(
      ids.map(async (id) => {
        const res = await fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "herd", stream: true, messages: [{ role: "user", content: id }] }),
        });
        const body = await res.text();
        return body
          .split("\n\n")
          .filter((e) => e.startsWith("data: {"))
          .map((e) => JSON.parse(e.slice(6)).choices[0].delta.content ?? "")
          .join("");
      }),
    );
    for (const [i, id] of ids.entries()) {
      expect(texts[i]).toBe(Array.from({ length: 20 }, (_, t) => `<${id}:${t}>`).join(""));
    }
    expect(herd.requests).toHaveLength(50);
  });
});
