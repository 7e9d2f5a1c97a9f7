import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExpertSetUpdate, ProviderExpertReload } from "../../../src/core/chat.js";
import { ExpertsNotServedError } from "../../../src/core/errors.js";
import type { Expert, ExpertSet } from "../../../src/core/expert.js";
import type { RouterService, RoutingDecision } from "../../../src/core/routing.js";
import { TOKENS } from "../../../src/core/tokens.js";
import { createHerd } from "../../../src/herd.js";
import { ScriptedProvider, testExperts } from "../../fixtures/herd/fakes.js";

/** `Herd.reloadExperts`: the provider is asked before the router changes, and ends on the router's set. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-reload-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const expert = (name: string): Expert => ({
  name,
  description: name,
  categories: [name],
  adapter: `${name}.gguf`,
  model: `herd-${name}`,
  examples: [`a question about ${name}`],
});
const names = (set: ExpertSet) => set.experts.map((e) => e.name);

/** A router whose experts change one at a time, and that fails to add the experts it is told to. */
class StepRouter implements RouterService {
  experts: ExpertSet = testExperts;
  readonly calls: string[] = [];
  constructor(private readonly failing: readonly string[] = []) {}
  async route(): Promise<RoutingDecision> {
    throw new Error("not used");
  }
  async addExpert(e: Expert): Promise<void> {
    this.calls.push(`add ${e.name}`);
    if (this.failing.includes(e.name)) throw new Error(`cannot embed ${e.name}`);
    this.experts = { ...this.experts, experts: [...this.experts.experts, e] };
  }
  async removeExpert(name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    this.experts = { ...this.experts, experts: this.experts.experts.filter((e) => e.name !== name) };
  }
}

/** A provider that records each reload's update and commit, and refuses the experts it is told to. */
class ReloadingProvider extends ScriptedProvider {
  readonly log: string[] = [];
  constructor(
    private readonly refuse: readonly string[] = [],
    private readonly before?: () => Promise<void>,
  ) {
    super();
  }
  async reloadExperts(update: ExpertSetUpdate): Promise<ProviderExpertReload> {
    this.log.push(`check ${names(update.current)} -> ${names(update.next)}`);
    await this.before?.();
    const refused = names(update.next).filter((n) => this.refuse.includes(n));
    if (refused.length > 0) throw new ExpertsNotServedError(refused, `cannot serve ${refused}`);
    return { warnings: ["a note"], commit: (served) => this.log.push(`commit ${names(served)}`) };
  }
}

async function herdWith(router: StepRouter, provider: ReloadingProvider, experts: Expert[]) {
  const folder = await mkdtemp(join(dir, "experts-"));
  await writeFile(join(folder, "experts.json"), JSON.stringify({ baseModel: "llama3.2", experts }));
  return createHerd(
    { expertsDir: folder, embedder: { name: "hashing" }, index: { name: "memory" } },
    {
      prepare: false,
      configure: (c) => {
        c.rebind(TOKENS.Router).toConstantValue(router);
        c.rebind(TOKENS.ChatProvider).toConstantValue(provider);
      },
    },
  );
}

describe("Herd.reloadExperts", () => {
  const start = testExperts.experts;

  it("asks the provider first: a refusal leaves the router untouched and commits nothing", async () => {
    const router = new StepRouter();
    const provider = new ReloadingProvider(["astro"]);
    const herd = await herdWith(router, provider, [...start, expert("astro")]);
    await expect(herd.reloadExperts()).rejects.toBeInstanceOf(ExpertsNotServedError);
    expect(router.calls).toEqual([]);
    expect(provider.log).toEqual(["check code,creative,math -> code,creative,math,astro"]);
    expect(names(herd.expertSet)).toEqual(["code", "creative", "math"]);
  });

  it("commits the provider to the router's set, also when the router fails half-way", async () => {
    const router = new StepRouter(["bad"]);
    const provider = new ReloadingProvider();
    const herd = await herdWith(router, provider, [...start, expert("astro"), expert("bad")]);
    await expect(herd.reloadExperts()).rejects.toThrow(/cannot embed bad/);
    expect(provider.log.at(-1)).toBe("commit code,creative,math,astro");

    const ok = await herdWith(new StepRouter(), new ReloadingProvider(), [start[0]!, expert("astro")]);
    const change = await ok.reloadExperts();
    expect(change).toMatchObject({ added: ["astro"], removed: ["creative", "math"], warnings: ["a note"] });
  });

  it("runs reloads one at a time", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const provider = new ReloadingProvider([], () => gate);
    const herd = await herdWith(new StepRouter(), provider, [...start, expert("astro")]);
    const first = herd.reloadExperts();
    const second = herd.reloadExperts();
    await new Promise((r) => setTimeout(r, 20));
    expect(provider.log).toHaveLength(1); // the second waits for the first
    release();
    await Promise.all([first, second]);
    expect(provider.log).toEqual([
      "check code,creative,math -> code,creative,math,astro",
      "commit code,creative,math,astro",
      "check code,creative,math,astro -> code,creative,math,astro",
      "commit code,creative,math,astro",
    ]);
  });
});
