const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one argument for a POSIX shell: as is when safe, else in single quotes. */
export function shellQuote(arg: string): string {
  if (arg !== "" && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An argument vector as one POSIX shell command line, with `NAME=value` environment in front. */
export function commandLine(argv: readonly string[], env: Readonly<Record<string, string>> = {}): string {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`);
  return [...vars, ...argv.map(shellQuote)].join(" ");
}
