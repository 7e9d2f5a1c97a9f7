import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigFile } from "../../../src/core/config.js";
import { parseLabeledData } from "../../../src/core/evaluation.js";
import { loadExpertSet } from "../../../src/core/experts.js";
import { readPeftConfig } from "../../../src/providers/adapters/peft-config.js";
import { createApp } from "../../../src/server/app.js";
import { listen } from "../../helpers/listen.js";
import { FakeHerd } from "../server/fake-herd.js";

const BOM = "\ufeff";

describe("a UTF-8 byte order mark", () => {
  it("is ignored at the start of config, experts.json, example and data files, and adapter_config.json", async () => {
    const dir = await mkdtemp(join(tmpdir(), "herd-bom-"));
    await mkdir(join(dir, "examples"));
    await writeFile(
      join(dir, "experts.json"),
      `${BOM}${JSON.stringify({
        baseModel: "base",
        experts: [
          { name: "code", description: "d", categories: [], adapter: "a", examples: "examples/code.jsonl" },
          { name: "poems", description: "d", categories: [], adapter: "a", examples: "examples/poems.txt" },
        ],
      })}`,
    );
    await writeFile(
      join(dir, "examples", "code.jsonl"),
      `${BOM}{"prompt":"write code"}\n{"prompt":"fix it"}\n`,
    );
    await writeFile(join(dir, "examples", "poems.txt"), `${BOM}a poem\nanother poem\n`);
    const experts = await loadExpertSet(dir);
    expect(experts.experts.map((e) => e.examples)).toEqual([
      ["write code", "fix it"],
      ["a poem", "another poem"],
    ]);

    await writeFile(join(dir, "herd.json"), `${BOM}{"router":{"topExperts":2}}`);
    expect((await loadConfigFile(join(dir, "herd.json"))).router.topExperts).toBe(2);

    expect(parseLabeledData(`${BOM}{"prompt":"p","expert":"code"}\n`, "data.jsonl")).toEqual([
      { prompt: "p", expert: "code" },
    ]);

    await writeFile(
      join(dir, "adapter_config.json"),
      `${BOM}{"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj"]}`,
    );
    expect((await readPeftConfig(join(dir, "adapter_config.json"))).r).toBe(8);
  });

  describe("in an HTTP body", () => {
    let server: Awaited<ReturnType<typeof listen>>;
    beforeAll(async () => {
      server = await listen(createApp(new FakeHerd(), { logger: { error: () => {} } }));
    });
    afterAll(() => server.close());

    it("is ignored the same way", async () => {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `${BOM}${JSON.stringify({ model: "herd", messages: [{ role: "user", content: "hi" }] })}`,
      });
      expect(res.status).toBe(200);
    });
  });
});
