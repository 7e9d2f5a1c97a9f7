import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createContainer, defaultRegistries } from "../../../src/container/index.js";
import type { ChatProvider } from "../../../src/core/chat.js";
import type { HerdConfigInput } from "../../../src/core/config.js";
import {
  ConfigError,
  ProviderUnavailableError,
  UnknownExpertError,
  UnknownNameError,
} from "../../../src/core/errors.js";
import type { RouterService } from "../../../src/core/routing.js";
import { TOKENS } from "../../../src/core/tokens.js";
import { createHerd, Herd } from "../../../src/herd.js";
import { FakeRouter, ScriptedProvider } from "../../fixtures/herd/fakes.js";
import { chatStream, ndjsonResponse, OLLAMA_URL, ollamaChatMock } from "../../fixtures/ollama/ollama-mock.js";

const mock = ollamaChatMock((body) => ndjsonResponse(chatStream([`Answer from ${body.model}`])), OLLAMA_URL, [
  "herd-code",
  "herd-creative",
  "herd-blend-code-creative-75-25",
]);
const server = setupServer(...mock.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => {
  mock.requests.length = 0;
  server.resetHandlers();
});
afterAll(() => server.close());

/** A small expert set, inline, with examples clear enough for the hashing embedder. */
const experts = {
  baseModel: "llama3.2",
  experts: [
    {
      name: "code",
      adapter: "code.gguf",
      examples: [
        "Write a Python function that reverses a list",
        "Fix this JavaScript function that throws a TypeError",
        "Write a SQL query that counts orders per customer",
        "Implement binary search in Rust",
      ],
    },
    {
      name: "creative",
      adapter: "creative.gguf",
      examples: [
        "Write a poem about the autumn sea",
        "Write a short story about a lonely lighthouse keeper",
        "Compose a haiku about snow on the mountains",
        "Write song lyrics about leaving home",
      ],
    },
  ],
};

const config = (extra: HerdConfigInput = {}): HerdConfigInput => ({
  experts,
  provider: { name: "ollama", url: OLLAMA_URL },
  ...extra,
});

describe("createHerd", () => {
  it("builds a working Herd from a config object: routes with the hashing embedder, generates on Ollama", async () => {
    const herd = await createHerd(config());
    expect(herd.experts.map((e) => e.name)).toEqual(["code", "creative"]);
    expect(herd.baseModel).toBe("llama3.2");
    expect(herd.embedder.id).toMatch(/^hashing-/);
    const decision = await herd.route("Write a Python function that sorts a list");
    expect(decision.selected[0]!.name).toBe("code");
    const response = await herd.generate({
      messages: [{ role: "user", content: "Write a poem about the sea" }],
    });
    expect(response.text).toBe("Answer from herd-creative");
    await herd.close();
  });

  it("reads a JSON config file, resolving expertsDir against the file's folder", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-config-"));
    await writeFile(join(dir, "experts.json"), JSON.stringify(experts));
    await writeFile(
      join(dir, "herd.json"),
      JSON.stringify({
        expertsDir: ".",
        provider: { name: "ollama", url: OLLAMA_URL },
        router: { topExperts: 2 },
      }),
    );
    const herd = await createHerd(join(dir, "herd.json"));
    expect(herd.config.expertsDir).toBe(dir);
    const decision = await herd.route("Compose a haiku about rain");
    expect(decision.selected).toHaveLength(2);
    await herd.close();
  });

  it("names the bad field in config errors", async () => {
    const cases: [HerdConfigInput, string][] = [
      [config({ router: { topExperts: 0 } }), "router.topExperts"],
      [{ ...config(), provider: { name: "ollama", urll: "x" } } as HerdConfigInput, "provider.urll"],
      [
        config({ plugins: [{ name: "sticky-routing", options: { margn: 1 } }] }),
        "plugins.sticky-routing.margn",
      ],
      [{ ...config(), routerr: {} } as HerdConfigInput, "routerr"],
    ];
    for (const [bad, field] of cases) {
      const error = await createHerd(bad).catch((e: unknown) => e);
      expect(error, field).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe(field);
      expect((error as Error).message).toContain(field);
    }
  });

  it("rejects unknown implementation names with the known ones listed", async () => {
    const provider = await createHerd(config({ provider: { name: "tgi" } })).catch((e: unknown) => e);
    expect(provider).toBeInstanceOf(UnknownNameError);
    expect((provider as Error).message).toMatch(
      /Known chat providers: llama-server, llamacpp, lorax, ollama, vllm/,
    );
    const plugin = await createHerd(config({ plugins: ["sticky"] })).catch((e: unknown) => e);
    expect((plugin as Error).message).toMatch(
      /Unknown plugin "sticky".*expert-override, fallback, metrics, request-logging, sticky-routing, tracing/,
    );
  });

  it("fails clearly when the config file is missing or not JSON", async () => {
    await expect(createHerd("/nonexistent/herd.json")).rejects.toThrow(/Cannot read the config file/);
    const dir = await mkdtemp(join(tmpdir(), "herd-config-"));
    await writeFile(join(dir, "herd.json"), "{ nope");
    await expect(createHerd(join(dir, "herd.json"))).rejects.toThrow(/not valid JSON/);
  });

  it("builds the configured plugins in hook order, with their options", async () => {
    const herd = await createHerd(
      config({
        plugins: ["request-logging", { name: "sticky-routing", options: { margin: 0.2 } }, "expert-override"],
      }),
    );
    expect(herd.plugins.map((p) => p.name)).toEqual(["expert-override", "sticky-routing", "request-logging"]);
    await herd.close();
  });

  it("routes a herd:<expert> model through the default expert-override plugin", async () => {
    const herd = await createHerd(config());
    const stream = await herd.stream({
      model: "herd:code",
      messages: [{ role: "user", content: "Write a poem" }],
    });
    await stream.collect();
    expect(stream.decision.reason).toBe("forced");
    expect(mock.requests[0]!.model).toBe("herd-code");
    await expect(
      herd.stream({ model: "herd:poetry", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toBeInstanceOf(UnknownExpertError);
    await herd.close();
  });

  it("resolves a two-expert blend to Ollama's prebuilt variant model", async () => {
    const herd = await createHerd(config({ router: { topExperts: 2 } }), {
      configure: (c) =>
        c
          .rebind<RouterService>(TOKENS.Router)
          .toConstantValue(new FakeRouter(experts as never, () => ({ code: 0.9, creative: 0.3 }))),
    });
    const stream = await herd.stream({
      messages: [{ role: "user", content: "Write a poem about a Python function" }],
      topExperts: 2,
    });
    await stream.collect();
    expect(stream.target).toMatchObject({
      model: "herd-blend-code-creative-75-25",
      adapters: [
        { expert: "code", scale: 0.75 },
        { expert: "creative", scale: 0.25 },
      ],
    });
    expect(mock.requests[0]!.model).toBe("herd-blend-code-creative-75-25");
    await herd.close();
  });

  it("learns the built blend variants from Ollama and falls back to the top expert for others", async () => {
    const herd = await createHerd(config({ router: { topExperts: 2 } }), {
      configure: (c) =>
        c
          .rebind<RouterService>(TOKENS.Router)
          .toConstantValue(new FakeRouter(experts as never, () => ({ code: 0.5, creative: 0.5 }))),
    });
    const stream = await herd.stream({
      messages: [{ role: "user", content: "Write a poem about a Python function" }],
      topExperts: 2,
    });
    await stream.collect();
    // equal distances give a 50/50 blend, which Ollama does not have: the top expert answers alone
    expect(stream.target.model).toBe("herd-code");
    expect(stream.warnings.join(" ")).toMatch(/Blend variant "herd-blend-code-creative-50-50" is not built/);
    await herd.close();
  });

  it("reports health, and names the URL when Ollama is down", async () => {
    const herd = await createHerd(config());
    await expect(herd.health()).resolves.toMatchObject({ provider: "ollama", index: "memory", experts: 2 });
    server.use(http.get(`${OLLAMA_URL}/`, () => HttpResponse.error()));
    const error = await herd.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toContain(OLLAMA_URL);
    await herd.close();
  });

  it("gives a LangChain chat model on the same Herd", async () => {
    const herd = await createHerd(config());
    const reply = await herd.chatModel({ temperature: 0 }).invoke("Write a SQL query that counts users");
    expect(reply.content).toBe("Answer from herd-code");
    expect(mock.requests[0]!.options).toEqual({ temperature: 0 });
    await herd.close();
  });
});

describe("rebinding", () => {
  it("a rebound chat provider answers instead of Ollama, without touching Herd", async () => {
    const mine = new ScriptedProvider();
    const herd = await createHerd(config(), {
      configure: (container) => container.rebind<ChatProvider>(TOKENS.ChatProvider).toConstantValue(mine),
    });
    const response = await herd.generate({
      messages: [{ role: "user", content: "Write a poem about snow" }],
    });
    expect(response.text).toBe("herd-creative: Write a poem about snow");
    expect(mine.requests).toHaveLength(1);
    expect(mock.requests).toHaveLength(0);
    await herd.close();
  });

  it("a rebound router decides, and the rest of the container follows", async () => {
    const container = await createContainer(config());
    container
      .rebind<RouterService>(TOKENS.Router)
      .toConstantValue(new FakeRouter(experts as never, () => ({ code: 0.1, creative: 0.9 })));
    const herd = await Herd.fromContainer(container);
    const response = await herd.generate({
      messages: [{ role: "user", content: "Write a Python function" }],
    });
    expect(response.model).toBe("herd-creative");
    await herd.close();
  });

  it("a provider registered by name is chosen by the config", async () => {
    const registries = defaultRegistries();
    const mine = new ScriptedProvider();
    registries.chatProviders.register("scripted", () => mine);
    const herd = await createHerd(config({ provider: { name: "scripted" } }), { registries });
    expect(herd.provider).toBe(mine);
    expect((await herd.generate({ messages: [{ role: "user", content: "hi" }] })).text).toContain("hi");
    expect(() => registries.chatProviders.register("scripted", () => mine)).toThrow(ConfigError);
    await herd.close();
  });
});
