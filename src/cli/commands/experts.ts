import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { ConfigError, errorMessage } from "../../core/errors.js";
import { EXPERT_NAME, type ExpertDefinition, parseExamples } from "../../core/experts.js";
import { addExpertToFile, readExpertsFile, removeExpertFromFile } from "../../core/experts-file.js";
import { prepareExpertAdapter } from "../../providers/adapters/expert-adapter.js";
import { readUpTo } from "../../providers/http/reply-limits.js";
import { EXPERTS_RELOAD_PATH } from "../../server/admin-experts.js";
import { addRoutingFlags, type RoutingFlags } from "../common-options.js";
import { writableExpertsDir } from "../experts-dir.js";
import { defaultExpertsDir, openHerd } from "../open-herd.js";
import { UsageError } from "../usage-error.js";

interface ReloadFlags {
  serveUrl?: string;
  apiKey?: string;
}

interface AddFlags extends RoutingFlags, ReloadFlags {
  name: string;
  adapter: string;
  examples: string;
  categories?: string;
  description?: string;
  base?: string;
  provider?: string;
  replace?: boolean;
}

interface RemoveFlags extends RoutingFlags, ReloadFlags {
  deleteFiles?: boolean;
}

/** `herd experts list | add | remove`: edit experts.json, keeping the centroids and a running server in step. */
export function registerExpertsCommand(program: Command): void {
  const experts = program
    .command("experts")
    .description("list, add or remove experts (experts.json and centroids)");
  experts
    .command("list")
    .description("list the experts in experts.json")
    .option(
      "--experts-dir <dir>",
      "the folder holding experts.json (default: ./experts, else the bundled experts)",
    )
    .option("--json", "print experts.json's experts as JSON")
    .action(async (flags: { expertsDir?: string; json?: boolean }) => {
      const data = await readExpertsFile(expertsDirOf(flags));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(data.experts, null, 2)}\n`);
        return;
      }
      const lines = [`base model ${data.baseModel}`];
      for (const e of data.experts) {
        const examples = typeof e.examples === "string" ? e.examples : `${e.examples.length} inline`;
        lines.push(
          `${e.name.padEnd(12)} ${(e.categories ?? []).join(",") || "-"}  adapter ${e.adapter}  examples ${examples}`,
        );
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  withReloadFlags(
    addRoutingFlags(
      experts
        .command("add")
        .description(
          "add an expert: check its adapter, copy its examples, update experts.json, rebuild the centroids",
        )
        .requiredOption("--name <name>", "the expert's name (lowercase letters, digits, - and _)")
        .requiredOption("--adapter <path>", "its LoRA adapter: a GGUF file or a PEFT folder")
        .requiredOption(
          "--examples <file>",
          'example prompts for its centroid: .jsonl ({"prompt": ...}) or .txt',
        )
        .option("--categories <list>", "comma-separated dataset categories (for herd segment)")
        .option("--description <text>", "one sentence on what the expert is for")
        .option(
          "--base <model.gguf>",
          "the GGUF base model: check the adapter against it, convert PEFT to GGUF",
        )
        .addOption(
          new Option("--provider <name>", "the backend that will serve it (llamacpp needs GGUF)")
            .choices(["ollama", "llamacpp"])
            .default("ollama"),
        )
        .option("--replace", "replace an expert of the same name"),
    ),
  ).action(async (flags: AddFlags) => {
    if (!EXPERT_NAME.test(flags.name)) {
      throw new UsageError(
        `--name "${flags.name.slice(0, 64)}" must be lowercase letters, digits, '-' or '_' (at most 63 characters).`,
      );
    }
    const dir = writableExpertsDir(flags.expertsDir, "herd experts add");
    const text = await readFile(flags.examples, "utf8").catch((error: Error) => {
      throw new ConfigError(`Cannot read --examples ${flags.examples}: ${error.message}.`, "--examples");
    });
    const prompts = parseExamples(text, flags.examples);
    if (prompts.length === 0)
      throw new ConfigError(`${flags.examples} holds no example prompts.`, "--examples");
    const adapter = await prepareExpertAdapter({
      name: flags.name,
      adapter: flags.adapter,
      expertsDir: dir,
      baseModel: flags.base,
      format: flags.provider === "llamacpp" ? "gguf" : "any",
    });
    for (const w of adapter.warnings) process.stderr.write(`herd experts add: warning: ${w}\n`);
    const examples = `examples/${flags.name}.jsonl`;
    await mkdir(join(dir, "examples"), { recursive: true });
    const examplesFile = join(dir, examples);
    const before = await readFile(examplesFile).catch(() => undefined);
    await writeFile(examplesFile, prompts.map((prompt) => `${JSON.stringify({ prompt })}\n`).join(""));
    let edit: Awaited<ReturnType<typeof addExpertToFile>>;
    try {
      edit = await addExpertToFile(
        dir,
        {
          name: flags.name,
          description: flags.description ?? "",
          categories: (flags.categories ?? "")
            .split(",")
            .map((c) => c.trim())
            .filter(Boolean),
          adapter: adapter.path,
          model: `herd-${flags.name}`,
          examples,
        },
        { replace: flags.replace },
      );
    } catch (error) {
      await restore(examplesFile, before);
      if (adapter.converted) await rm(join(dir, adapter.path), { recursive: true, force: true });
      throw error;
    }
    try {
      await rebuildCentroids(flags);
    } catch (error) {
      await edit.undo();
      await restore(examplesFile, before);
      if (adapter.converted) await rm(join(dir, adapter.path), { recursive: true, force: true });
      throw error;
    }
    const lines = [
      `added expert ${flags.name} to ${join(dir, "experts.json")}: adapter ${adapter.path} (${adapter.format}${adapter.converted ? ", converted from PEFT" : ""}, ${adapter.modules} modules, rank ${adapter.rank}), ${prompts.length} example prompts`,
      ...(await reloadServer(flags)),
      "next:",
      flags.provider === "llamacpp"
        ? `  restart herd serve --provider llamacpp:<base.gguf> --experts-dir ${dir} (llama.cpp loads adapters at startup)`
        : `  herd build --experts-dir ${dir}    # creates the Ollama model herd-${flags.name}`,
      `  herd route --experts-dir ${dir} "<a prompt for ${flags.name}>"`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  });

  withReloadFlags(
    addRoutingFlags(
      experts
        .command("remove")
        .description("remove an expert from experts.json and the centroids")
        .argument("<name>", "the expert to remove")
        .option(
          "--delete-files",
          "also delete its examples and adapter when they live in the experts folder",
        ),
    ),
  ).action(async (name: string, flags: RemoveFlags) => {
    const dir = writableExpertsDir(flags.expertsDir, "herd experts remove");
    const edit = await removeExpertFromFile(dir, name);
    try {
      await rebuildCentroids(flags);
    } catch (error) {
      await edit.undo();
      throw error;
    }
    const files = await ownFiles(dir, edit.previous!);
    if (flags.deleteFiles) for (const f of files) await rm(join(dir, f), { recursive: true, force: true });
    const lines = [
      `removed expert ${name} from ${join(dir, "experts.json")}`,
      files.length === 0
        ? ""
        : `${flags.deleteFiles ? "deleted" : "kept (--delete-files deletes them)"}: ${files.join(", ")}`,
      ...(await reloadServer(flags)),
    ].filter(Boolean);
    process.stdout.write(`${lines.join("\n")}\n`);
  });
}

/**
 * The files of a removed expert that `--delete-files` may delete: inside the experts folder once
 * resolved (`adapters/../../x` is not) and used by no remaining expert (a shared examples file is kept).
 */
async function ownFiles(dir: string, removed: ExpertDefinition): Promise<string[]> {
  const inUse = new Set<string>();
  for (const e of (await readExpertsFile(dir)).experts) {
    for (const f of [e.adapter, typeof e.examples === "string" ? e.examples : undefined])
      if (f !== undefined) inUse.add(resolve(dir, f));
  }
  const candidates = [typeof removed.examples === "string" ? removed.examples : undefined, removed.adapter];
  return candidates.filter((f): f is string => {
    if (f === undefined) return false;
    const path = resolve(dir, f);
    const inside = relative(dir, path);
    return inside !== "" && !inside.startsWith("..") && !isAbsolute(inside) && !inUse.has(path);
  });
}

function expertsDirOf(flags: { expertsDir?: string }): string {
  return flags.expertsDir ? resolve(flags.expertsDir) : defaultExpertsDir();
}

function withReloadFlags(command: Command): Command {
  return command
    .option(
      "--serve-url <url>",
      `a running herd serve to reload (POST <url>${EXPERTS_RELOAD_PATH})`,
      reloadUrl,
    )
    .option("--api-key <key>", "that server's --api-key (default: $HERD_API_KEY)");
}

async function rebuildCentroids(flags: RoutingFlags): Promise<void> {
  const herd = await openHerd({ ...flags, expertsDir: writableExpertsDir(flags.expertsDir, "herd experts") });
  try {
    await herd.router.rebuildCentroids();
  } finally {
    await herd.close();
  }
}

async function restore(file: string, before: Buffer | undefined): Promise<void> {
  if (before === undefined) await rm(file, { force: true });
  else await writeFile(file, before);
}

/**
 * Parses --serve-url (commander argParser) into the reload endpoint's URL, before anything is
 * changed; a path on the server's address (behind a proxy) is kept.
 */
function reloadUrl(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value.trim());
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new InvalidArgumentError("--serve-url must be the server's address, e.g. http://127.0.0.1:8000");
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}${EXPERTS_RELOAD_PATH}`;
}

/** The most of a reload reply read: 1 MiB, room for thousands of expert names. */
const RELOAD_REPLY_BYTES = 1024 * 1024;

function parseJsonOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

/** Asks a running server to re-read experts.json; a failure is reported, not fatal (the file is updated). */
async function reloadServer(flags: ReloadFlags): Promise<string[]> {
  if (!flags.serveUrl) {
    return [
      `a running herd serve picks this up with: curl -X POST <server>${EXPERTS_RELOAD_PATH} -H 'content-type: application/json' -H 'authorization: Bearer <key>' -d '{}' (or herd experts ... --serve-url <server>)`,
    ];
  }
  const url = flags.serveUrl;
  const key = flags.apiKey ?? process.env.HERD_API_KEY;
  try {
    const response = await fetch(url, {
      method: "POST",
      // The server takes only JSON POSTs (a browser cannot send those cross-origin without CORS).
      headers: {
        "content-type": "application/json",
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: "{}",
      signal: AbortSignal.timeout(60_000),
    });
    // The reply names the experts (or the error): a small JSON object, read at most RELOAD_REPLY_BYTES of it.
    const read = response.body ? await readUpTo(response.body, RELOAD_REPLY_BYTES) : undefined;
    if (read && !read.complete)
      return [
        `warning: ${url} sent a reply larger than 1 MiB; is it a herd serve ${EXPERTS_RELOAD_PATH} URL?`,
      ];
    const body = (read ? parseJsonOr(read.bytes.toString("utf8"), {}) : {}) as {
      experts?: string[];
      warnings?: unknown;
      error?: { message?: string };
    };
    if (!response.ok)
      return [`warning: ${url} answered ${response.status}: ${body.error?.message ?? "no details"}`];
    const warnings = Array.isArray(body.warnings) ? body.warnings.slice(0, 20).map(String) : [];
    return [`reloaded ${url}: serving ${body.experts?.join(", ")}`, ...warnings.map((w) => `warning: ${w}`)];
  } catch (error) {
    return [`warning: could not reload ${url}: ${errorMessage(error)}`];
  }
}
