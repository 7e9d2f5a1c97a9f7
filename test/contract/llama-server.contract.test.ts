import { setupServer } from "msw/node";
import { afterAll, beforeAll } from "vitest";
import { NativeBlendResolver, OllamaBlendResolver } from "../../src/core/blend-resolver.js";
import { ModelNotFoundError } from "../../src/core/errors.js";
import { LlamaServerChatProvider } from "../../src/providers/chat/llama-server/index.js";
import { LlamaServerStandIn } from "../fixtures/engines/llama-server-stand-in.js";
import { standInHandlers } from "../fixtures/engines/serve-stand-in.js";
import { testExperts } from "../fixtures/herd/fakes.js";
import { describeChatProviderContract } from "./chat-provider-contract.js";
import { standInHooks } from "./harness.js";

/** llama-server (msw stand-in) through the shared provider contract. */

const URL = "http://llama-server.test:8080";
const engine = new LlamaServerStandIn({
  adapters: ["/srv/adapters/code.gguf", "/srv/adapters/creative.gguf", "/srv/adapters/math.gguf"],
});
const server = setupServer(...standInHandlers(URL, engine));
const provider = new LlamaServerChatProvider({
  url: URL,
  experts: ["code", "creative", "math"].map((e) => ({ expert: e, file: `/home/me/experts/${e}.gguf` })),
});

beforeAll(async () => {
  server.listen({ onUnhandledRequest: "error" });
  await provider.prepare();
});
afterAll(() => server.close());

describeChatProviderContract("llama-server", {
  provider: () => provider,
  resolver: () => new NativeBlendResolver({ fallback: new OllamaBlendResolver() }),
  experts: testExperts,
  unknown: { model: "herd-nope", adapters: [{ expert: "nope", scale: 1 }], base: false },
  isUnknownError: (e) => e instanceof ModelNotFoundError && /--lora/.test((e as Error).message),
  lastSelection: () => engine.lastLora,
  expectedBlend: [
    { id: 0, scale: 0.75 },
    { id: 1, scale: 0 },
    { id: 2, scale: 0.25 },
  ],
  logprobs: true,
  ...standInHooks(engine),
});
