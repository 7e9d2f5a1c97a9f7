import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadExpertSet } from "../../../src/core/experts.js";
import { centroid, dot } from "../../../src/core/vector-math.js";
import { HashingEmbedder } from "../../../src/providers/embedders/hashing.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const expertsDir = join(repo, "experts");
/** The shared benchmark data sits next to the repository (../shared in CI), or where $HERD_ROUTING_DATA says. */
const routingDir = process.env.HERD_ROUTING_DATA ?? resolve(repo, "../shared/data/routing");

/** The airoboros-2.1 segmentation the default experts follow. */
const SEGMENTATION: Record<string, string[]> = {
  qa: ["quiz", "multiple_choice", "contextual", "counterfactual_contextual"],
  creative: ["card", "writing", "experience", "song", "roleplay", "gtkm", "rp", "detailed_writing", "joke"],
  code: ["coding"],
  reasoning: ["cot", "theory_of_mind", "riddle", "orca"],
  function: ["agent", "plan"],
  general: ["wordgame", "trivia", "general"],
};

interface ExpertEntry {
  name: string;
  description: string;
  categories: string[];
  adapter: string;
  model: string;
  examples: string;
}

const file = JSON.parse(readFileSync(join(expertsDir, "experts.json"), "utf8")) as {
  baseModel: string;
  experts: ExpertEntry[];
};

function examplesOf(expert: ExpertEntry): { prompt: string; category: string }[] {
  return readFileSync(join(expertsDir, expert.examples), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { prompt: string; category: string });
}

const normalize = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();

describe("default experts", () => {
  it("experts.json has the six experts of the airoboros-2.1 segmentation, each fully described", async () => {
    expect(file.baseModel).toBe("llama3.2:3b");
    expect(file.experts.map((e) => e.name)).toEqual(Object.keys(SEGMENTATION));
    for (const expert of file.experts) {
      expect(expert.categories).toEqual(SEGMENTATION[expert.name]);
      expect(expert.description.length).toBeGreaterThan(20);
      expect(expert.adapter).toBe(`adapters/${expert.name}.gguf`);
      expect(expert.model).toBe(`herd-${expert.name}`);
      expect(expert.examples).toBe(`examples/${expert.name}.jsonl`);
    }
    const set = await loadExpertSet(expertsDir);
    expect(set.experts.map((e) => e.examples.length)).toEqual(file.experts.map((e) => examplesOf(e).length));
  });

  it("each expert has at least 40 examples, covering every one of its categories", () => {
    for (const expert of file.experts) {
      const examples = examplesOf(expert);
      expect(examples.length, expert.name).toBeGreaterThanOrEqual(40);
      for (const example of examples) {
        expect(typeof example.prompt, expert.name).toBe("string");
        expect(example.prompt.trim(), expert.name).not.toBe("");
        expect(expert.categories, `${expert.name}: ${example.prompt.slice(0, 60)}`).toContain(
          example.category,
        );
      }
      expect(new Set(examples.map((e) => e.category)), expert.name).toEqual(new Set(expert.categories));
    }
  });

  it("no example prompt appears twice, within or across experts", () => {
    const seen = new Map<string, string>();
    for (const expert of file.experts) {
      for (const { prompt } of examplesOf(expert)) {
        const key = normalize(prompt);
        expect(seen.get(key), `duplicate: ${prompt.slice(0, 80)}`).toBeUndefined();
        seen.set(key, expert.name);
      }
    }
  });

  it.skipIf(!existsSync(routingDir))("no example prompt is taken from the routing benchmark data", () => {
    const benchmark = new Set<string>();
    for (const name of ["calibration.jsonl", "heldout.jsonl"]) {
      for (const line of readFileSync(join(routingDir, name), "utf8").split("\n")) {
        if (line.trim() !== "") benchmark.add(normalize((JSON.parse(line) as { prompt: string }).prompt));
      }
    }
    expect(benchmark.size).toBeGreaterThan(0);
    for (const expert of file.experts) {
      for (const { prompt } of examplesOf(expert)) {
        expect(benchmark.has(normalize(prompt)), `${expert.name}: ${prompt.slice(0, 80)}`).toBe(false);
      }
    }
  });

  it("routes clear-cut prompts to the right expert by centroid with the fitted hashing embedder", async () => {
    const set = await loadExpertSet(expertsDir);
    const embedder = HashingEmbedder.fit(set.experts.flatMap((e) => e.examples));
    const centroids = await Promise.all(
      set.experts.map(async (e) => [e.name, centroid(await embedder.embed(e.examples))] as const),
    );
    const cases: [string, string][] = [
      ["Write a JavaScript function that removes duplicate values from an array.", "code"],
      ["Compose a love song about two lighthouses that can never meet.", "creative"],
      [
        "A shop sells pens at $2 each. How much do 7 pens cost after a 10% discount? Show your work.",
        "reasoning",
      ],
      [
        'You have access to the following functions: [{"name": "get_time", "parameters": {"city": "string"}}]\n\nWhat time is it in Oslo?',
        "function",
      ],
      ["Which of the following is a noble gas?\nA. Oxygen\nB. Neon\nC. Nitrogen\nD. Sodium", "qa"],
      ["Give me a list of 10 words that end with 'ness'.", "general"],
    ];
    const vectors = await embedder.embed(cases.map(([prompt]) => prompt));
    const routed = vectors.map(
      (v) => centroids.reduce((best, c) => (dot(v, c[1]) > dot(v, best[1]) ? c : best))[0],
    );
    expect(routed).toEqual(cases.map(([, expert]) => expert));
  });
});
