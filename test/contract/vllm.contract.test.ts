import { setupServer } from "msw/node";
import { afterAll, beforeAll } from "vitest";
import { OllamaBlendResolver } from "../../src/core/blend-resolver.js";
import { ModelNotFoundError } from "../../src/core/errors.js";
import { VllmChatProvider } from "../../src/providers/chat/vllm/index.js";
import { standInHandlers } from "../fixtures/engines/serve-stand-in.js";
import { VllmStandIn } from "../fixtures/engines/vllm-stand-in.js";
import { testExperts } from "../fixtures/herd/fakes.js";
import { describeChatProviderContract } from "./chat-provider-contract.js";
import { standInHooks } from "./harness.js";

/** vLLM (msw stand-in speaking vLLM's OpenAI server) through the shared provider contract. */

const URL = "http://vllm.test:8000";
const engine = new VllmStandIn({
  adapters: ["herd-code", "herd-creative", "herd-math", "herd-blend-code-math-75-25"],
});
const server = setupServer(...standInHandlers(URL, engine));
const provider = new VllmChatProvider({
  url: URL,
  experts: { code: "herd-code", creative: "herd-creative", math: "herd-math" },
});
const resolver = new OllamaBlendResolver();

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  await provider.prepare();
  await resolver.prepare(provider);
});
afterAll(() => server.close());

describeChatProviderContract("vllm", {
  provider: () => provider,
  resolver: () => resolver,
  experts: testExperts,
  unknown: { model: "herd-nope", adapters: [{ expert: "nope", scale: 1 }], base: false },
  isUnknownError: (e) => e instanceof ModelNotFoundError && /--lora-modules/.test((e as Error).message),
  lastSelection: () => engine.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)?.body.model,
  expectedBlend: "herd-blend-code-math-75-25",
  logprobs: true,
  ...standInHooks(engine),
});
