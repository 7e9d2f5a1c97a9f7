import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as providerExample from "../../examples/custom-provider.js";
import * as routingExample from "../../examples/express-routing.js";
import * as agentExample from "../../examples/langchain-agent.js";
import * as chainExample from "../../examples/langchain-chain.js";
import * as embeddingsExample from "../../examples/langchain-embeddings.js";
import * as routerExample from "../../examples/langchain-router.js";
import type { Router } from "../../src/core/router.js";
import { createHerd } from "../../src/herd.js";
import { chatStream, ndjsonResponse, OLLAMA_URL, ollamaChatMock } from "./../fixtures/ollama/ollama-mock.js";
import { copyRepoExperts } from "../helpers/repo-experts.js";

/**
 * Runs every example against Ollama mocked from the documented /api/chat stream: plain questions
 * get "Answer from <model>" in pieces; with tools, the model first calls get_weather, then answers
 * from the tool's result.
 */
const mock = ollamaChatMock((body) => {
  const last = body.messages.at(-1)!;
  if (last.role === "tool") return ndjsonResponse(chatStream(["It is ", last.content, " in Tokyo."]));
  if (body.tools?.length) {
    return ndjsonResponse(
      chatStream([], {
        toolCalls: [{ id: "call_k3x9a1b2", name: "get_weather", arguments: { city: "Tokyo" } }],
      }),
    );
  }
  return ndjsonResponse(chatStream(["Answer", " from ", body.model]));
});
const server = setupServer(...mock.handlers);

beforeAll(() =>
  server.listen({
    // The Express example talks to itself on an ephemeral localhost port: let that through.
    onUnhandledRequest: (request, print) => {
      if (new URL(request.url).origin !== OLLAMA_URL) return;
      print.error();
    },
  }),
);
// The examples route over a private copy of the bundled experts (routing trains into the experts
// folder; the working tree's experts/ stays untouched). Trains its linear router once, so no example
// pays for it inside its timeout.
const experts = await copyRepoExperts();
afterAll(() => experts.remove());
beforeAll(async () => {
  const herd = await createHerd({ expertsDir: experts.dir }, { prepare: false });
  await (herd.router as Router).linearModel();
  await herd.close();
}, 180_000);
afterEach(() => {
  mock.requests.length = 0;
});
afterAll(() => server.close());

const quiet = { ollamaUrl: OLLAMA_URL, log: () => {}, expertsDir: experts.dir };

describe("examples", () => {
  it("langchain-chain: the code question goes to the code expert, the haiku streams", async () => {
    const result = await chainExample.main(quiet);
    expect(result.model).toBe("herd-code");
    expect(result.answer).toBe("Answer from herd-code");
    expect(result.streamed).toMatch(/^Answer from herd-/);
    expect(mock.requests[0]!.messages[0]).toEqual({
      role: "system",
      content: "You are a concise assistant.",
    });
  });

  it("langchain-agent: the agent calls the tool through Herd and answers from its result", async () => {
    const result = await agentExample.main(quiet);
    expect(result.toolCalls).toEqual([
      expect.objectContaining({ name: "get_weather", args: { city: "Tokyo" } }),
    ]);
    expect(result.answer).toBe("It is 11 degrees celsius, clear in Tokyo.");
    expect(mock.requests[0]!.tools?.[0]?.function.name).toBe("get_weather");
    // tool_choice naming get_weather: Ollama's output is constrained to a call of it.
    expect(mock.requests[0]!.format).toMatchObject({ properties: { name: { const: "get_weather" } } });
    expect(mock.requests[1]!.messages.at(-1)).toMatchObject({ role: "tool", tool_name: "get_weather" });
  });

  it("langchain-agent --demo: on the random tiny llama.cpp model the forced tool call still happens", async () => {
    const result = await agentExample.main({ log: () => {}, demo: true, expertsDir: experts.dir });
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ name: "get_weather", args: { city: expect.any(String) } });
    // The tool ran, and the model answered after its result (tool_choice "none": text, no second call).
    expect(result.messages.map((m) => m.type)).toEqual(["human", "ai", "tool", "ai"]);
    expect(mock.requests).toHaveLength(0);
  }, 60_000);

  it("express-routing: routes inside an Express app without generating", async () => {
    const result = await routingExample.main(quiet);
    expect(result.results.map((r) => r.expert)).toEqual(["code", "creative"]);
    expect(result.results[0]!.experts).toHaveLength(2);
    expect(result.badStatus).toBe(400);
    expect(mock.requests).toHaveLength(0);
  });

  it("custom-provider: a rebound metering provider wraps Ollama; a provider registered by name answers offline", async () => {
    const result = await providerExample.main(quiet);
    expect(result.usage["herd-code"]).toEqual({ requests: 1, outputTokens: 3 });
    expect(mock.requests).toHaveLength(2);
    expect(result.templateAnswer).toMatch(/^\(herd-\w+\) You asked: Prove that 17 is prime\.$/);
  });

  it("langchain-router: each question runs the chain of its expert, streamed, with the route in the run's metadata", async () => {
    const result = await routerExample.main(quiet);
    expect(result.answer).toBe("Here is the code you asked for.");
    expect(result.streamed).toBe("Once upon a time...");
    expect(result.route).toMatchObject({ route: "creative", expert: "creative", reason: "routed" });
    expect(result.other).toBe("A general answer.");
    expect(mock.requests).toHaveLength(0);
  });

  it("langchain-embeddings: a LangChain Embeddings routes, with centroids in its own folder", async () => {
    const result = await embeddingsExample.main(quiet);
    expect(result.embedder).toBe("langchain-BagOfWordsEmbeddings-bag-of-words-256");
    expect(result.folder).toMatch(/langchain-BagOfWordsEmbeddings-bag-of-words-256$/);
    expect(result.code).toBe("code");
    expect(result.story).toBe("creative");
  });
});
