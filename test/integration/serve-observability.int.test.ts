import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { copyRepoExperts } from "../helpers/repo-experts.js";

// herd serve builds the routing first, into the experts folder: a private copy, not the working tree's.
const experts = await copyRepoExperts();
afterAll(() => experts.remove());

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill("SIGKILL");
  child = undefined;
});

/** Starts `herd serve` with the given flags; resolves with its stdout once it is listening. */
function serve(...flags: string[]): Promise<string> {
  const process_ = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "serve",
      "--experts-dir",
      experts.dir,
      "--port",
      "0",
      "--ollama-url",
      "http://127.0.0.1:9",
      ...flags,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child = process_;
  let stdout = "";
  let stderr = "";
  process_.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    process_.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes("Press Ctrl+C")) resolve(stdout);
    });
    process_.once("exit", (code) => reject(new Error(`herd serve exited (${code}): ${stderr}`)));
  });
}

const urlOf = (stdout: string, label: string) => new RegExp(`${label}: (http://\\S+)`).exec(stdout)![1]!;

describe("herd serve: metrics and playground flags", () => {
  it("serves the playground and /metrics behind the key by default", async () => {
    const out = await serve("--api-key", "k");
    const playground = urlOf(out, "playground");
    const metrics = urlOf(out, "metrics");
    expect(metrics).toBe(`${playground}metrics`);
    expect((await fetch(playground)).headers.get("content-security-policy")).toContain("default-src 'none'");
    expect((await fetch(metrics)).status).toBe(401);
    const res = await fetch(metrics, { headers: { authorization: "Bearer k" } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(
      /# TYPE herd_requests_total counter[\s\S]*process_cpu_user_seconds_total/,
    );
  });

  it("moves /metrics to --metrics-port without the key, and drops the page with --no-ui", async () => {
    const out = await serve("--api-key", "k", "--metrics-port", "0", "--no-ui");
    expect(out).not.toContain("playground:");
    const api = /at (http:\/\/\S+)\/v1/.exec(out)![1]!;
    const metrics = urlOf(out, "metrics");
    expect(metrics).not.toContain(api);
    expect((await fetch(metrics)).status).toBe(200);
    expect((await fetch(`${api}/`)).status).toBe(404);
    expect((await fetch(`${api}/metrics`, { headers: { authorization: "Bearer k" } })).status).toBe(404);
  });
});
