export { escapeHtml, renderHtmlReport } from "./html.js";
export { renderMarkdownReport } from "./markdown.js";
