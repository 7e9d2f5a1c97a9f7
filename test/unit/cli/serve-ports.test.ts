import { createServer, type Server } from "node:net";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { copyRepoExperts } from "../../helpers/repo-experts.js";
import { runHerd } from "../../helpers/run-cli.js";

// herd serve builds the routing first, into the experts folder: a private copy, not the working tree's.
const experts = await copyRepoExperts();
afterAll(() => experts.remove());

let busy: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (busy ? busy.close(resolve) : resolve(undefined)));
  busy = undefined;
});

/** A port some other program holds. */
async function takenPort(): Promise<number> {
  busy = createServer();
  await new Promise<void>((resolve) => busy!.listen(0, "127.0.0.1", resolve));
  return (busy.address() as { port: number }).port;
}

describe("herd serve ports", () => {
  it("names --metrics-port when the metrics port is the one already in use", async () => {
    const port = await takenPort();
    const run = await runHerd(
      "serve",
      "--experts-dir",
      experts.dir,
      "--port",
      "0",
      "--metrics-port",
      String(port),
      "--ollama-url",
      "http://127.0.0.1:9",
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    expect(run.stderr).toContain("pick another port with --metrics-port");
  });
});
