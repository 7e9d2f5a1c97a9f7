import { setupServer } from "msw/node";
import { afterAll, beforeAll } from "vitest";
import { NativeBlendResolver, OllamaBlendResolver } from "../../src/core/blend-resolver.js";
import { ModelNotFoundError } from "../../src/core/errors.js";
import { LoraxChatProvider } from "../../src/providers/chat/lorax/index.js";
import { LoraxStandIn } from "../fixtures/engines/lorax-stand-in.js";
import { standInHandlers } from "../fixtures/engines/serve-stand-in.js";
import { LLAMA3_TEMPLATE } from "../fixtures/engines/templates.js";
import { testExperts } from "../fixtures/herd/fakes.js";
import { describeChatProviderContract } from "./chat-provider-contract.js";
import { standInHooks } from "./harness.js";

/** LoRAX (msw stand-in of its router) through the shared provider contract, with and without native merges. */

const URL = "http://lorax.test:8080";
const DIR = "/data/adapters";
const adapters = ["herd-code", "herd-creative", "herd-math", "herd-blend-code-math-75-25"].map(
  (a) => `${DIR}/${a}`,
);
const engine = new LoraxStandIn({ adapters });
const OLD_URL = "http://lorax-0-10.test:8080";
/** LoRAX before v0.11: its /v1 stream carries no usage (its JSON reply and /generate_stream do). */
const oldEngine = new LoraxStandIn({ adapters, streamUsage: false });
const server = setupServer(...standInHandlers(URL, engine), ...standInHandlers(OLD_URL, oldEngine));
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterAll(() => server.close());

const last = () => engine.requests.at(-1);
const isUnknownError = (e: unknown) =>
  e instanceof ModelNotFoundError && /herd build --engine lorax/.test((e as Error).message);
const unknown = { model: "herd-nope", adapters: [{ expert: "nope", scale: 1 }], base: false };

const prebuilt = new LoraxChatProvider({ url: URL, adapterDir: DIR });
describeChatProviderContract("lorax (prebuilt blend adapters)", {
  provider: () => prebuilt,
  resolver: () => new OllamaBlendResolver(),
  experts: testExperts,
  unknown,
  isUnknownError,
  lastSelection: () => ({ model: last()?.body.model, adapter_source: last()?.body.adapter_source }),
  expectedBlend: { model: `${DIR}/herd-blend-code-math-75-25`, adapter_source: "local" },
  ...standInHooks(engine),
});

const merging = new LoraxChatProvider({
  url: URL,
  adapterDir: DIR,
  merge: { strategy: "ties", density: 0.5 },
  chatTemplate: LLAMA3_TEMPLATE,
});
describeChatProviderContract("lorax (native merges)", {
  provider: () => merging,
  resolver: () => new NativeBlendResolver({ fallback: new OllamaBlendResolver() }),
  experts: testExperts,
  unknown,
  isUnknownError,
  lastSelection: () => ({
    path: last()?.path,
    merged: (last()?.body.parameters as { merged_adapters?: unknown })?.merged_adapters,
  }),
  expectedBlend: {
    path: "/generate_stream",
    merged: {
      ids: [`${DIR}/herd-code`, `${DIR}/herd-math`],
      weights: [0.75, 0.25],
      merge_strategy: "ties",
      density: 0.5,
    },
  },
  logprobs: true,
  ...standInHooks(engine),
});

const old = new LoraxChatProvider({ url: OLD_URL, adapterDir: DIR });
describeChatProviderContract("lorax before v0.11 (no usage in its /v1 stream)", {
  provider: () => old,
  resolver: () => new OllamaBlendResolver(),
  experts: testExperts,
  unknown,
  isUnknownError,
  ...standInHooks(oldEngine),
});
