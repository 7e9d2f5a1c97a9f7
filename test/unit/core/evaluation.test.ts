import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/core/errors.js";
import { evaluateRouter, formatReport, parseLabeledData } from "../../../src/core/evaluation.js";
import type { RouteInput, RoutingDecision } from "../../../src/core/routing.js";

/** Routes by the first word of the prompt, so the expected scores are easy to compute by hand. */
const router = {
  experts: { experts: [{ name: "code" }, { name: "qa" }] },
  embedderId: "fake",
  async route(input: RouteInput): Promise<RoutingDecision> {
    const word = String(input).split(" ")[0]!;
    const selected = word === "none" ? [] : [{ name: word, distance: 0.1, similarity: 0.9, weight: 1 }];
    return {
      ranked: selected,
      selected,
      model: word,
      strategy: "centroid",
      weighting: "inverse-distance",
      reason: selected.length ? "routed" : "below-threshold",
      embedder: "fake",
      timings: { embedMs: 1, queryMs: 1, totalMs: 2 },
      warnings: [],
    };
  },
};

describe("evaluateRouter", () => {
  it("computes accuracy, precision, recall and the confusion matrix", async () => {
    const report = await evaluateRouter(router, [
      { prompt: "code a", expert: "code" },
      { prompt: "code b", expert: "code" },
      { prompt: "qa c", expert: "code" },
      { prompt: "qa d", expert: "qa" },
      { prompt: "none e", expert: "qa" },
    ]);
    expect(report.n).toBe(5);
    expect(report.accuracy).toBeCloseTo(3 / 5, 12);
    expect(report.perExpert.code).toEqual({ precision: 1, recall: 2 / 3, f1: 0.8, support: 3 });
    expect(report.perExpert.qa!.precision).toBeCloseTo(0.5, 12);
    expect(report.perExpert.qa!.recall).toBeCloseTo(0.5, 12);
    expect(report.confusion.code).toEqual({ code: 2, qa: 1, "(base)": 0 });
    expect(report.confusion.qa).toEqual({ code: 0, qa: 1, "(base)": 1 });
    expect(report.latencyMs.p50).toBe(2);
    const text = formatReport(report);
    expect(text).toMatch(/^accuracy 60\.0% on 5 prompts/);
    expect(text).toMatch(/\(base\)/);
  });

  it("rejects labels that are not experts", async () => {
    await expect(evaluateRouter(router, [{ prompt: "x", expert: "poetry" }])).rejects.toThrow(
      /"poetry", which is not an expert/,
    );
  });
});

describe("parseLabeledData", () => {
  it("names the file and line of a bad row", () => {
    expect(parseLabeledData('{"prompt":"a","expert":"qa"}\n\n', "d.jsonl")).toEqual([
      { prompt: "a", expert: "qa" },
    ]);
    expect(() => parseLabeledData('{"prompt":"a","expert":"qa"}\nnot json', "d.jsonl")).toThrow(
      /d\.jsonl:2: not valid JSON/,
    );
    expect(() => parseLabeledData('{"prompt":"","expert":"qa"}', "d.jsonl")).toThrow(InvalidInputError);
    expect(() => parseLabeledData('{"prompt":"a"}', "d.jsonl")).toThrow(/d\.jsonl:1: "expert"/);
    expect(() => parseLabeledData("\n", "d.jsonl")).toThrow(/no data lines/);
  });
});
