import type { EvaluationReport } from "../evaluation.js";
import { confusionColumns, misrouted, pct } from "./shared.js";

/** Misrouted prompts listed in Markdown (CI logs stay short). */
const MARKDOWN_MISROUTED = 20;

/**
 * Control characters other than whitespace (C0, DEL, C1): a prompt's escape sequences would reach
 * the terminal or CI log the Markdown is printed to (window titles, OSC 52 clipboard writes).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/g;

/** A table cell: pipes escaped, newlines flattened, control characters replaced, long text cut. */
function cell(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, " ").replace(CONTROL, "\uFFFD").trim();
  const cut = flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
  return cut.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function table(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => " --- ").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/** Renders an evaluation as Markdown for CI logs and pull requests (`herd eval --format markdown`). */
export function renderMarkdownReport(report: EvaluationReport): string {
  const lines = [
    "## Herd routing evaluation",
    "",
    `**Accuracy ${pct(report.accuracy)}** on ${report.n} prompts · embedder \`${report.embedder}\` · strategy \`${report.strategy}\` · ECE ${report.ece.toFixed(3)}`,
    `Routing latency: mean ${report.latencyMs.mean.toFixed(2)} ms, p50 ${report.latencyMs.p50.toFixed(2)} ms, p99 ${report.latencyMs.p99.toFixed(2)} ms`,
    "",
    "### Per expert",
    "",
    ...table(
      ["expert", "precision", "recall", "F1", "n"],
      report.labels.map((name) => {
        const s = report.perExpert[name]!;
        return [cell(name), pct(s.precision), pct(s.recall), pct(s.f1), String(s.support)];
      }),
    ),
    "",
    "### Confusion (rows: labeled, columns: routed)",
    "",
  ];
  const cols = confusionColumns(report);
  lines.push(
    ...table(
      ["labeled \\ routed", ...cols.map((c) => cell(c))],
      report.labels.map((l) => [cell(l), ...cols.map((c) => String(report.confusion[l]?.[c] ?? 0))]),
    ),
    "",
    "### Coverage by confidence threshold",
    "",
    ...table(
      ["threshold", "coverage", "accuracy"],
      report.coverage
        .filter((_, i) => i % 2 === 0)
        .map((c) => [c.threshold.toFixed(3), pct(c.coverage), pct(c.accuracy)]),
    ),
  );
  const wrong = misrouted(report);
  lines.push("", `### Misrouted prompts (${wrong.length})`, "");
  if (wrong.length > 0) {
    lines.push(
      ...table(
        ["prompt", "labeled", "routed", "confidence"],
        wrong
          .slice(0, MARKDOWN_MISROUTED)
          .map((p) => [cell(p.prompt), cell(p.expert), cell(p.routed), p.confidence.toFixed(2)]),
      ),
    );
    if (wrong.length > MARKDOWN_MISROUTED) lines.push("", `…and ${wrong.length - MARKDOWN_MISROUTED} more.`);
  } else {
    lines.push("None.");
  }
  return `${lines.join("\n")}\n`;
}
