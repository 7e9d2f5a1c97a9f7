import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import { RunnableLambda } from "@langchain/core/runnables";
import { FakeStreamingLLM, SyntheticEmbeddings } from "@langchain/core/utils/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HerdRouterRunnable, routeTo } from "../../../src/core/router-runnable.js";
import { createHerd, type Herd } from "../../../src/herd.js";
import { LangChainEmbedder } from "../../../src/providers/embedders/langchain.js";
import { copyRepoExperts, type ExpertsCopy } from "../../helpers/repo-experts.js";

let herd: Herd;
// Routing trains into the experts folder: a private copy keeps the working tree's experts/ untouched.
let experts: ExpertsCopy;

beforeAll(async () => {
  experts = await copyRepoExperts();
  herd = await createHerd({ expertsDir: experts.dir }, { prepare: false });
});
afterAll(async () => {
  await herd.close();
  await experts.remove();
});

const CODE = "Write a Python function that parses a CSV file";
const POEM = "Write a poem about the sea at night";

describe("HerdRouterRunnable", () => {
  it("streams the chosen runnable's chunks as they come, and puts the decision in the run's metadata", async () => {
    const router = routeTo<string, string>(herd, {
      code: new FakeStreamingLLM({ responses: ["def parse(): ..."], sleep: 1 }),
      default: RunnableLambda.from(() => "general"),
    });
    const chunks: string[] = [];
    for await (const chunk of await router.stream(CODE)) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.join("")).toBe("def parse(): ...");

    const starts: Record<string, unknown>[] = [];
    const out = await router.invoke(POEM, {
      callbacks: [
        {
          handleChainStart: (_chain, _inputs, _runId, _runType, _tags, metadata) => {
            if (metadata) starts.push(metadata);
          },
        },
      ],
    });
    expect(out).toBe("general"); // creative has no runnable: the default runs
    expect(starts[0]).toMatchObject({
      herd_route: { route: "default", expert: "creative", reason: "routed" },
    });
  });

  it("routes chat messages and objects, and says what is missing without a default", async () => {
    const router = new HerdRouterRunnable<unknown, string>({
      router: herd,
      routes: { code: RunnableLambda.from(() => "code!") },
    });
    expect(await router.invoke({ question: CODE })).toBe("code!");
    expect(await router.invoke([new SystemMessage("Be brief."), new HumanMessage(CODE)])).toBe("code!");
    await expect(router.invoke(42)).rejects.toThrow(/cannot find the text to route/);
    await expect(router.invoke(POEM)).rejects.toThrow(
      /routed to "creative", which has no runnable, and there is no "default" route/,
    );
    expect(() => new HerdRouterRunnable({ router: herd, routes: {} })).toThrow(/at least one route/);
  });
});

describe("LangChainEmbedder", () => {
  it("names itself after the class and model, normalizes vectors, and refuses bad ones", async () => {
    const synthetic = new SyntheticEmbeddings({ vectorSize: 16 });
    const embedder = new LangChainEmbedder({ embeddings: synthetic });
    expect(embedder.id).toBe("langchain-SyntheticEmbeddings");
    expect(new LangChainEmbedder({ embeddings: synthetic, id: "my model:v2" }).id).toBe(
      "langchain-my_model_v2",
    );
    const [v] = await embedder.embed(["hello world"]);
    expect(v).toHaveLength(16);
    expect(Math.hypot(...v!)).toBeCloseTo(1, 5);
    expect(await embedder.dimension()).toBe(16);
    const broken = new LangChainEmbedder({
      embeddings: { embedDocuments: async () => [[1, Number.NaN]], embedQuery: async () => [] },
    });
    await expect(broken.embed(["x"])).rejects.toThrow(/not a list of finite numbers/);
    expect(() => LangChainEmbedder.fromSettings({ embeddings: {} })).toThrow(
      /must be a LangChain Embeddings/,
    );
    expect(() => LangChainEmbedder.fromSettings({ embeddings: synthetic, model: "x" })).toThrow(
      /embedder.model: unknown setting/,
    );
  });
});
