import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { NativeBlendResolver, OllamaBlendResolver } from "../../src/core/blend-resolver.js";
import { UnknownExpertError } from "../../src/core/errors.js";
import {
  createDemoAssets,
  type DemoAssets,
  LlamaCppChatProvider,
} from "../../src/providers/llamacpp/index.js";
import { describeChatProviderContract } from "../contract/chat-provider-contract.js";
import { testExperts } from "../fixtures/herd/fakes.js";

/** Real llama.cpp (node-llama-cpp, the generated tiny model with one LoRA per expert) through the provider contract. */

let dir: string;
let assets: DemoAssets;
let provider: LlamaCppChatProvider;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "herd-llamacpp-contract-"));
  assets = await createDemoAssets(dir, ["code", "creative", "math"]);
  provider = new LlamaCppChatProvider({ modelPath: assets.modelPath, adapters: assets.adapters, threads: 1 });
  await provider.health();
});

afterAll(async () => {
  await provider?.close();
  await rm(dir, { recursive: true, force: true });
});

describeChatProviderContract("llamacpp (node-llama-cpp, tiny generated model)", {
  provider: () => provider,
  resolver: () => new NativeBlendResolver({ fallback: new OllamaBlendResolver() }),
  experts: testExperts,
  unknown: { model: "nope", adapters: [{ expert: "nope", scale: 1 }], base: false },
  isUnknownError: (e) => e instanceof UnknownExpertError,
});
