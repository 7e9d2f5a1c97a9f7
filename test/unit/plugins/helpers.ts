import { OllamaBlendResolver } from "../../../src/core/blend-resolver.js";
import { type HerdRequest, Pipeline } from "../../../src/core/pipeline.js";
import type { Plugin } from "../../../src/core/plugin.js";
import { FakeRouter, ScriptedProvider, testExperts } from "../../fixtures/herd/fakes.js";

/** A Pipeline on fakes (keyword router, scripted provider) with the given plugins. */
export function pipelineWith(plugins: Plugin[], similarities?: (text: string) => Record<string, number>) {
  const provider = new ScriptedProvider();
  const router = new FakeRouter(testExperts, similarities);
  const warnings: string[] = [];
  const pipeline = new Pipeline({
    router,
    resolver: new OllamaBlendResolver(),
    provider,
    experts: testExperts,
    plugins,
    logger: { warn: (m) => warnings.push(m) },
  });
  return { pipeline, provider, router, warnings };
}

export const user = (content: string, extra: Partial<HerdRequest> = {}): HerdRequest => ({
  messages: [{ role: "user", content }],
  ...extra,
});
