/** Normalizes OLLAMA_HOST-style values (`host:port`, `0.0.0.0`) into a URL. */
export function ollamaBaseUrl(value?: string): string {
  const raw = (value ?? process.env.OLLAMA_HOST ?? "http://127.0.0.1:11434").trim();
  const withScheme = /^https?:\/\//.test(raw) ? raw : `http://${raw}`;
  const url = new URL(withScheme);
  if (url.hostname === "0.0.0.0") url.hostname = "127.0.0.1";
  // No explicit port: Ollama's default (URL drops a port equal to the scheme default, so check the text too).
  const explicitPort = /^https?:\/\/(\[[^\]]+\]|[^/:]+):\d+/.test(withScheme);
  if (!url.port && !explicitPort && url.protocol === "http:") url.port = "11434";
  return url.toString().replace(/\/$/, "");
}
