/**
 * Finds how to run the Chroma server that ships with the `chromadb` npm package on this machine.
 *
 * The CLI's native bindings need glibc >= 2.38. Where they load (Debian 13, macOS) the CLI runs
 * directly. Where they fail on an older glibc (Debian 12 has 2.36) the CLI runs under a newer
 * glibc: `libc6` from Debian trixie, fetched once with a private apt configuration from the same
 * mirror as the system's sources, unpacked into `.cache/glibc/` and used through its own dynamic
 * loader. Nothing system-wide is touched.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file lives in `scripts/`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** How to start the Chroma CLI: `command ...args run --path DIR --port N --host 127.0.0.1`. */
export interface ChromaRuntime {
  /** `native` runs the CLI directly; `glibc-fallback` runs it under a newer glibc from Debian trixie. */
  mode: "native" | "glibc-fallback";
  command: string;
  args: string[];
}

/** Options for {@link prepareChromaRuntime}. */
export interface PrepareChromaRuntimeOptions {
  /** Folder for downloaded and unpacked files. @default `<repo>/.cache` */
  cacheDir?: string;
  /** Receives progress lines. @default no output */
  log?: (line: string) => void;
}

const TRIPLETS: Record<string, { triplet: string; loader: string }> = {
  x64: { triplet: "x86_64-linux-gnu", loader: "ld-linux-x86-64.so.2" },
  arm64: { triplet: "aarch64-linux-gnu", loader: "ld-linux-aarch64.so.1" },
};

/**
 * Returns how to run the Chroma CLI here, downloading and unpacking trixie's glibc first when the
 * native bindings need it (about 3 MB, a few seconds, once; later calls reuse the cache).
 */
export function prepareChromaRuntime(options: PrepareChromaRuntimeOptions = {}): ChromaRuntime {
  const log = options.log ?? (() => {});
  const { entry, cli } = locateChromadb();
  const binding = bindingsPackage();
  const probe = probeBindings(process.execPath, [], entry, binding);
  if (probe.ok) return { mode: "native", command: process.execPath, args: [cli] };
  if (platform() !== "linux" || !/GLIBC_\d/.test(probe.error)) {
    throw new Error(
      `Chroma's native bindings (${binding}) do not load: ${probe.error}. Run \`npm ci\` again.`,
    );
  }
  const target = TRIPLETS[arch()];
  if (!target) throw new Error(`Chroma needs a newer glibc and no fallback exists for CPU "${arch()}".`);
  const root = join(options.cacheDir ?? join(REPO_ROOT, ".cache"), "glibc");
  let libDir = findLibDir(join(root, "libc6"), target.triplet, target.loader);
  if (!libDir) {
    log(`Chroma's bindings need a newer glibc than this system's: fetching libc6 from Debian trixie.`);
    downloadLibc6(root, log);
    libDir = findLibDir(join(root, "libc6"), target.triplet, target.loader);
    if (!libDir)
      throw new Error(`The unpacked libc6 in ${root} has no ${target.loader}: delete ${root} and retry.`);
    const loader = join(libDir, target.loader);
    const check = probeBindings(loader, ["--library-path", libDir, process.execPath], entry, binding);
    if (!check.ok) throw new Error(`Chroma's bindings still fail under trixie's glibc: ${check.error}`);
    log(`glibc from Debian trixie is ready in ${libDir}`);
  }
  return {
    mode: "glibc-fallback",
    command: join(libDir, target.loader),
    args: ["--library-path", libDir, process.execPath, cli],
  };
}

/** The chromadb entry file (to resolve its bindings the way it does) and its CLI script. */
function locateChromadb(): { entry: string; cli: string } {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve("chromadb");
  } catch {
    throw new Error(`The "chromadb" package is not installed: run \`npm ci\` in ${REPO_ROOT}.`);
  }
  let dir = dirname(entry);
  while (
    !existsSync(join(dir, "package.json")) ||
    !readFileSync(join(dir, "package.json"), "utf8").includes('"name": "chromadb"')
  ) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`Cannot find the chromadb package folder above ${entry}.`);
    dir = parent;
  }
  return { entry, cli: join(dir, "dist", "cli.mjs") };
}

/** The native bindings package chromadb requires on this platform (mirrors chromadb's bindings.ts). */
function bindingsPackage(): string {
  const os = platform();
  const cpu = arch();
  if (os === "linux" && (cpu === "x64" || cpu === "arm64")) return `chromadb-js-bindings-linux-${cpu}-gnu`;
  if (os === "darwin" && (cpu === "x64" || cpu === "arm64")) return `chromadb-js-bindings-darwin-${cpu}`;
  if (os === "win32") return `chromadb-js-bindings-win32-${cpu}-msvc`;
  throw new Error(`Chroma's CLI has no native bindings for ${os}/${cpu}.`);
}

/** Loads the bindings in a child process (a failed dlopen must not touch this one). */
function probeBindings(command: string, prefix: string[], entry: string, binding: string) {
  const code = `require("node:module").createRequire(${JSON.stringify(entry)})(${JSON.stringify(binding)})`;
  const result = spawnSync(command, [...prefix, "-e", code], { encoding: "utf8" });
  if (result.status === 0) return { ok: true, error: "" } as const;
  const lines = `${result.stderr ?? ""}${result.error?.message ?? ""}`.split("\n");
  const error =
    lines.find((line) => /GLIBC_|Error:/.test(line))?.trim() ?? lines[0]?.trim() ?? "unknown error";
  return { ok: false, error } as const;
}

function findLibDir(root: string, triplet: string, loader: string): string | undefined {
  return [join(root, "lib", triplet), join(root, "usr", "lib", triplet)].find((dir) =>
    existsSync(join(dir, loader)),
  );
}

/** apt-get update + download libc6 from trixie with a private configuration, then `dpkg -x`. */
function downloadLibc6(root: string, log: (line: string) => void): void {
  for (const tool of ["apt-get", "dpkg"]) {
    if (spawnSync(tool, ["--version"]).status !== 0) {
      throw new Error(
        `Chroma's bindings need glibc >= 2.38 and \`${tool}\` is missing to fetch it: run on Debian 12/13 or a system with glibc >= 2.38.`,
      );
    }
  }
  const work = join(root, "apt");
  rmSync(work, { recursive: true, force: true });
  for (const dir of ["lists/partial", "cache/archives/partial", "debs"])
    mkdirSync(join(work, dir), { recursive: true });
  const mirror = systemDebianMirror();
  const sourceList = join(work, "trixie.list");
  const signedBy = mirror.signedBy ? `[signed-by=${mirror.signedBy}] ` : "";
  writeFileSync(sourceList, `deb ${signedBy}${mirror.uri} trixie main\n`);
  const apt = [
    ...["-o", `Dir::Etc::sourcelist=${sourceList}`, "-o", "Dir::Etc::sourceparts=/dev/null"],
    ...["-o", `Dir::State::Lists=${join(work, "lists")}`, "-o", `Dir::Cache=${join(work, "cache")}`],
    ...["-o", "APT::Sandbox::User=root"],
    ...(mirror.uri.includes("snapshot.debian.org") ? ["-o", "Acquire::Check-Valid-Until=false"] : []),
  ];
  log(`apt-get update (Debian trixie from ${mirror.uri})`);
  run("apt-get", [...apt, "update"], work, `apt-get update for Debian trixie from ${mirror.uri} failed`);
  log("apt-get download libc6");
  run(
    "apt-get",
    [...apt, "download", "libc6"],
    join(work, "debs"),
    "apt-get download libc6 (Debian trixie) failed",
  );
  const deb = readdirSync(join(work, "debs")).find(
    (name) => name.startsWith("libc6_") && name.endsWith(".deb"),
  );
  if (!deb) throw new Error(`apt-get download libc6 left no .deb in ${join(work, "debs")}.`);
  const staging = join(root, `libc6.partial-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  run("dpkg", ["-x", join(work, "debs", deb), staging], root, `dpkg -x ${deb} failed`);
  rmSync(join(root, "libc6"), { recursive: true, force: true });
  renameSync(staging, join(root, "libc6"));
  writeFileSync(join(root, "libc6", "SOURCE"), `${deb} from ${mirror.uri} trixie\n`);
  rmSync(work, { recursive: true, force: true });
}

/** Runs a tool; fails with its most telling output line. apt-get update exits 0 after a failed fetch, hence `W: Failed`. */
function run(command: string, args: string[], cwd: string, failure: string): void {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });
  if (result.status === 0 && !/^W: Failed to fetch/m.test(result.stderr ?? "")) return;
  const lines = `${result.error?.message ?? ""}\n${result.stderr ?? ""}\n${result.stdout ?? ""}`
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  const reason =
    lines.find((line) => line.startsWith("W: Failed to fetch")) ??
    lines.find((line) => /^(E:|dpkg|spawn)/.test(line)) ??
    lines[0] ??
    `exit code ${result.status}`;
  throw new Error(`${failure}: ${reason}`);
}

interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  signedBy?: string;
}

/**
 * The Debian mirror of the system's own sources (the entry for its release, not security), so the
 * download goes where the machine is allowed to reach. Falls back to deb.debian.org.
 */
export function systemDebianMirror(): { uri: string; signedBy?: string } {
  const osRelease = readText("/etc/os-release");
  const codename = /^VERSION_CODENAME=("?)(\w+)\1$/m.exec(osRelease)?.[2];
  const sources: AptSource[] = [...parseOneLine(readText("/etc/apt/sources.list"))];
  const partsDir = "/etc/apt/sources.list.d";
  const parts = existsSync(partsDir) ? readdirSync(partsDir).sort() : [];
  for (const name of parts) {
    const text = readText(join(partsDir, name));
    if (name.endsWith(".list")) sources.push(...parseOneLine(text));
    if (name.endsWith(".sources")) sources.push(...parseDeb822(text));
  }
  const debian = sources.filter(
    (source) =>
      source.types.includes("deb") &&
      source.suites.some((suite) => (codename ? suite === codename : !suite.includes("-"))) &&
      source.uris.some((uri) => !uri.includes("security")),
  );
  const chosen = debian[0];
  const uri = chosen?.uris.find((candidate) => !candidate.includes("security"));
  const keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
  const signedBy = chosen?.signedBy?.startsWith("/")
    ? chosen.signedBy
    : existsSync(keyring)
      ? keyring
      : undefined;
  return { uri: (uri ?? "http://deb.debian.org/debian").replace(/\/+$/, ""), signedBy };
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** `deb [opt=value ...] uri suite component...` lines. */
function parseOneLine(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const match = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (!match) continue;
    const signedBy = /signed-by=(\S+)/.exec(match[2] ?? "")?.[1];
    sources.push({ types: [match[1]!], uris: [match[3]!], suites: [match[4]!], signedBy });
  }
  return sources;
}

/** Deb822 stanzas (`Types:`, `URIs:`, `Suites:`, `Signed-By:`, `Enabled:`). */
function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#")) continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)}\n${line.trim()}`);
        continue;
      }
      const match = /^([\w-]+):\s*(.*)$/.exec(line);
      if (!match) continue;
      last = match[1]!.toLowerCase();
      fields.set(last, match[2]!.trim());
    }
    if (!fields.has("uris") || fields.get("enabled")?.toLowerCase() === "no") continue;
    const words = (key: string) => (fields.get(key) ?? "").split(/\s+/).filter(Boolean);
    sources.push({
      types: words("types"),
      uris: words("uris"),
      suites: words("suites"),
      signedBy: words("signed-by")[0],
    });
  }
  return sources;
}
