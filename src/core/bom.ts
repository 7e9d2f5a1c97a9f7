/**
 * Drops a leading UTF-8 byte order mark (U+FEFF), which Windows editors write and JSON.parse
 * refuses. HTTP bodies get the same treatment (the server's UTF-8 decoder drops it), so a file and
 * a request body with a BOM read the same.
 */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
