import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveStandIn } from "../../fixtures/engines/serve-stand-in.js";
import { VllmStandIn } from "../../fixtures/engines/vllm-stand-in.js";
import { copyRepoExperts } from "../../helpers/repo-experts.js";
import { runHerd } from "../../helpers/run-cli.js";

/** `herd serve --provider vllm|lorax|llama-server:URL [--api-key-backend KEY]`: flags reach the provider, errors are one line. */

let engine: { url: string; close: () => Promise<void> };
// herd serve builds the routing first, into the experts folder: a private copy, not the working tree's.
const experts = await copyRepoExperts();
afterAll(() => experts.remove());
const serve = (...args: string[]) => runHerd("serve", "--experts-dir", experts.dir, ...args);
const vllm = new VllmStandIn({ adapters: [], apiKey: "sk-engine" });
beforeAll(async () => {
  engine = await serveStandIn(vllm);
});
afterAll(() => engine.close());

describe("herd serve with an engine", () => {
  it("sends --api-key-backend to the engine and stops with one line naming the fix", async () => {
    const run = await serve(
      "--port",
      "0",
      "--provider",
      `vllm:${engine.url}`,
      "--api-key-backend",
      "sk-engine",
    );
    expect(run.code).not.toBe(0);
    expect(vllm.requests.at(-1)?.headers.get("authorization")).toBe("Bearer sk-engine");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/serves no LoRA adapters.*--enable-lora --lora-modules/);
  });

  it("without the key the engine's 401 says to pass --api-key-backend", async () => {
    const run = await serve("--port", "0", "--provider", `vllm:${engine.url}`);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--api-key-backend/);
  });

  it.each([
    [["--provider", "vllm"], /--provider vllm needs the engine's URL: --provider vllm:http:\/\/HOST:PORT/],
    [
      ["--provider", "lorax:localhost:8080"],
      /--provider lorax:localhost:8080 is not an http\(s\) URL: give it as --provider lorax:http:\/\/HOST:PORT/,
    ],
    [
      ["--provider", "ollama", "--api-key-backend", "k"],
      /--api-key-backend applies to --provider vllm \| lorax \| llama-server/,
    ],
    [["--provider", "llamacpp"], /--provider llamacpp needs a model: --provider llamacpp:base\.gguf/],
    [["--provider", "ollama:x"], /--provider ollama takes no ":x" setting: give just --provider ollama/],
    [
      ["--provider", "tgi:http://x"],
      /--provider "tgi" is not one Herd knows; use one of: llama-server, llamacpp, lorax, ollama, vllm/,
    ],
    [
      ["--demo", "--provider", "ollama"],
      /--demo runs its own offline model, embedder and index; drop --provider/,
    ],
  ])("refuses %j as a usage error: one readable line, exit 2", async (args, message) => {
    const run = await serve("--port", "0", ...args);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(message);
  });
});
