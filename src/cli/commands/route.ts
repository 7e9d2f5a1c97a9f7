import type { Command } from "commander";
import type { RoutingDecision } from "../../core/routing.js";
import { addRoutingFlags, positiveInt, type RoutingFlags } from "../common-options.js";
import { openHerd } from "../open-herd.js";
import { UsageError } from "../usage-error.js";

interface RouteFlags extends RoutingFlags {
  topExperts?: number;
  json?: boolean;
}

/** Renders a decision the way `herd route` prints it. */
export function formatDecision(d: RoutingDecision): string {
  const lines = d.ranked.map((e) => {
    const mark = d.selected.some((s) => s.name === e.name) ? "*" : " ";
    const score =
      d.strategy === "linear"
        ? `probability ${e.similarity.toFixed(4)}`
        : `similarity ${e.similarity.toFixed(4)}  distance ${e.distance.toFixed(4)}`;
    return `${mark} ${e.name.padEnd(12)} ${score}  weight ${e.weight.toFixed(3)}`;
  });
  const confidence = d.confidence === undefined ? "" : `, confidence ${d.confidence.toFixed(3)}`;
  lines.push(
    `model ${d.model} (${d.reason}${confidence}); strategy ${d.strategy}, weighting ${d.weighting}, embedder ${d.embedder}`,
    `embed ${d.timings.embedMs.toFixed(2)} ms, query ${d.timings.queryMs.toFixed(2)} ms, total ${d.timings.totalMs.toFixed(2)} ms`,
  );
  for (const w of d.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}

/** `herd route <text>`: shows which expert(s) a prompt goes to, and why. */
export function registerRouteCommand(program: Command): void {
  addRoutingFlags(
    program
      .command("route")
      .description(
        "show which expert(s) a prompt is routed to, with probabilities (or distances), weights and timings",
      )
      .argument("<text...>", "the prompt to route")
      .option("--top-experts <n>", "how many experts to blend", positiveInt("--top-experts"))
      .option("--json", "print the routing decision as JSON"),
  ).action(async (words: string[], flags: RouteFlags) => {
    if (words.join("").trim() === "")
      throw new UsageError(
        'The prompt is empty: give some text to route, e.g. herd route "Sort a list in Python".',
      );
    const herd = await openHerd(flags);
    try {
      const decision = await herd.route(words.join(" "), { topExperts: flags.topExperts });
      process.stdout.write(`${flags.json ? JSON.stringify(decision, null, 2) : formatDecision(decision)}\n`);
    } finally {
      await herd.close();
    }
  });
}
