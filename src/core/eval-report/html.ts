import type { EvaluationReport } from "../evaluation.js";
import { confusionColumns, MAX_MISROUTED, misrouted, pct } from "./shared.js";

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d1d1b;background:#f7f7f5;margin:0}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.05rem;margin:1.6rem 0 .6rem}
.summary{color:#55554f}.big{font-size:2rem;font-weight:700;color:#2f7d5b;margin-right:.6rem}
section{background:#fff;border:1px solid #e2e2dc;border-radius:8px;padding:1rem;margin-top:1rem;overflow-x:auto}
table{border-collapse:collapse;font-size:.85rem}th,td{padding:.35rem .55rem;border:1px solid #e2e2dc;text-align:left}
th{background:#fafaf7;font-weight:500;color:#55554f}
table.matrix td{text-align:center;min-width:3.2rem;font-variant-numeric:tabular-nums}
table.matrix td.diag{font-weight:700}
td.num{text-align:right;font-variant-numeric:tabular-nums}
svg text{font:12px system-ui,sans-serif;fill:#44443f}
.legend span{display:inline-block;width:.8rem;height:.6rem;margin:0 .3rem 0 .9rem;border-radius:2px}
.note{color:#6b6b66;font-size:.85rem}
`;

/** Heat-map cell colour: green on the diagonal, red off it, darker for a larger share of the row. */
function heat(share: number, diagonal: boolean): string {
  const alpha = share === 0 ? 0 : 0.12 + 0.78 * share;
  const rgb = diagonal ? "47,125,91" : "179,38,30";
  const text = alpha > 0.55 ? "color:#fff;" : "";
  return `background:rgba(${rgb},${alpha.toFixed(3)});${text}`;
}

function confusionTable(report: EvaluationReport): string {
  const cols = confusionColumns(report);
  const head = cols.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join("");
  const rows = report.labels.map((label) => {
    const row = report.confusion[label] ?? {};
    const total = Object.values(row).reduce((a, b) => a + b, 0);
    const cells = cols.map((col) => {
      const n = row[col] ?? 0;
      const share = total === 0 ? 0 : n / total;
      const diag = col === label;
      return `<td class="${diag ? "diag" : "off"}" data-labeled="${escapeHtml(label)}" data-routed="${escapeHtml(col)}" style="${heat(share, diag)}" title="${escapeHtml(`${label} → ${col}: ${n} (${pct(share)} of the row)`)}">${n}</td>`;
    });
    return `<tr><th scope="row">${escapeHtml(label)}</th>${cells.join("")}</tr>`;
  });
  return `<table class="matrix"><thead><tr><th>labeled \\ routed</th>${head}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** Horizontal precision and recall bars per expert, as inline SVG. */
function scoreBars(report: EvaluationReport): string {
  const rowHeight = 34;
  const left = 120;
  const width = 560;
  const height = report.labels.length * rowHeight + 10;
  const bars = report.labels.map((name, i) => {
    const s = report.perExpert[name]!;
    const y = i * rowHeight + 4;
    const bar = (value: number, dy: number, color: string, what: string) =>
      `<rect x="${left}" y="${y + dy}" width="${(value * width).toFixed(1)}" height="11" fill="${color}"><title>${escapeHtml(`${name} ${what} ${pct(value)}`)}</title></rect>` +
      `<text x="${left + value * width + 6}" y="${y + dy + 10}">${pct(value)}</text>`;
    return (
      `<text x="0" y="${y + 18}">${escapeHtml(name)}</text>` +
      bar(s.precision, 2, "#2f7d5b", "precision") +
      bar(s.recall, 15, "#9aa7b8", "recall")
    );
  });
  return `<p class="legend"><span style="background:#2f7d5b"></span>precision<span style="background:#9aa7b8"></span>recall</p>
<svg class="scores" role="img" aria-label="precision and recall per expert" width="${left + width + 60}" height="${height}" viewBox="0 0 ${left + width + 60} ${height}">${bars.join("")}</svg>`;
}

/** Coverage and accuracy against the confidence threshold, as an inline SVG line chart. */
function coverageChart(report: EvaluationReport): string {
  const w = 560;
  const h = 240;
  const pad = { left: 44, right: 16, top: 12, bottom: 36 };
  const maxThreshold = report.coverage.at(-1)?.threshold || 1;
  const x = (t: number) => pad.left + (t / maxThreshold) * (w - pad.left - pad.right);
  const y = (v: number) => pad.top + (1 - v) * (h - pad.top - pad.bottom);
  const line = (key: "coverage" | "accuracy", color: string) => {
    // Accuracy means nothing where no prompt is left: that part of the curve is not drawn.
    const shown = key === "accuracy" ? report.coverage.filter((c) => c.coverage > 0) : report.coverage;
    const points = shown.map((c) => `${x(c.threshold).toFixed(1)},${y(c[key]).toFixed(1)}`);
    const dots = shown
      .map(
        (c) =>
          `<circle cx="${x(c.threshold).toFixed(1)}" cy="${y(c[key]).toFixed(1)}" r="2.5" fill="${color}"><title>threshold ${c.threshold.toFixed(2)}: ${key} ${pct(c[key])}</title></circle>`,
      )
      .join("");
    return `<polyline class="${key}" fill="none" stroke="${color}" stroke-width="2" points="${points.join(" ")}"/>${dots}`;
  };
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (v) =>
        `<line x1="${pad.left}" x2="${w - pad.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e2dc"/><text x="4" y="${y(v) + 4}">${v * 100}%</text>` +
        `<text x="${x(v * maxThreshold) - 10}" y="${h - 18}">${(v * maxThreshold).toFixed(2)}</text>`,
    )
    .join("");
  return `<p class="legend"><span style="background:#2f7d5b"></span>accuracy of routed prompts<span style="background:#9aa7b8"></span>coverage (share routed to an expert)</p>
<svg class="coverage" role="img" aria-label="accuracy and coverage by confidence threshold" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${grid}
<text x="${w / 2 - 90}" y="${h - 2}">confidence threshold (top expert's weight)</text>${line("coverage", "#9aa7b8")}${line("accuracy", "#2f7d5b")}</svg>`;
}

function misroutedTable(report: EvaluationReport): string {
  const wrong = misrouted(report);
  if (wrong.length === 0) return `<p class="note">Every prompt went to its labeled expert.</p>`;
  const rows = wrong
    .slice(0, MAX_MISROUTED)
    .map(
      (p) =>
        `<tr><td>${escapeHtml(p.prompt.length > 400 ? `${p.prompt.slice(0, 399)}…` : p.prompt)}</td><td>${escapeHtml(p.expert)}</td><td>${escapeHtml(p.routed)}</td><td class="num">${p.confidence.toFixed(3)}</td></tr>`,
    )
    .join("");
  const more =
    wrong.length > MAX_MISROUTED ? `<p class="note">…and ${wrong.length - MAX_MISROUTED} more.</p>` : "";
  return `<table class="misrouted"><thead><tr><th>prompt</th><th>labeled</th><th>routed</th><th>confidence</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
}

/**
 * Renders an evaluation as one self-contained HTML page (`herd eval --report report.html`): the
 * confusion matrix as a heat map, precision/recall bars per expert, the accuracy/coverage curve of
 * the confidence threshold below which the base model would answer, and the misrouted prompts.
 * No scripts and no external resources: it opens from disk, in CI artifacts, or attached to a ticket.
 */
export function renderHtmlReport(report: EvaluationReport, title = "Herd routing evaluation"): string {
  const wrong = report.n - Math.round(report.accuracy * report.n);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body><main>
<h1>${escapeHtml(title)}</h1>
<p class="summary"><span class="big accuracy">${pct(report.accuracy)}</span>accuracy on ${report.n} prompts (${wrong} misrouted) · embedder <code>${escapeHtml(report.embedder)}</code> · strategy <code>${escapeHtml(report.strategy)}</code> · expected calibration error ${report.ece.toFixed(3)} · routing latency p50 ${report.latencyMs.p50.toFixed(2)} ms, p99 ${report.latencyMs.p99.toFixed(2)} ms</p>
<section><h2>Confusion matrix</h2><p class="note">Rows: the labeled expert; columns: where the router sent the prompt. Green: right, red: wrong; darker is a larger share of the row.</p>${confusionTable(report)}</section>
<section><h2>Precision and recall per expert</h2>${scoreBars(report)}</section>
<section><h2>Accuracy and coverage by confidence threshold</h2><p class="note">If prompts whose top expert weight is below the threshold went to the base model: the share still routed to an expert, and how many of those are right.</p>${coverageChart(report)}</section>
<section><h2>Misrouted prompts</h2>${misroutedTable(report)}</section>
</main></body>
</html>
`;
}
