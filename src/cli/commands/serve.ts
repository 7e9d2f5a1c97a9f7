import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { HerdConfigInput } from "../../core/config.js";
import { ConfigError, errorMessage } from "../../core/errors.js";
import { MAX_TIMEOUT_MS } from "../../core/timeouts.js";
import { createHerd, type Herd } from "../../herd.js";
import { MetricsPlugin } from "../../plugins/metrics/index.js";
import { createApp } from "../../server/app.js";
import { trackShutdown } from "../../server/graceful-shutdown.js";
import { LOCAL_HOSTS } from "../../server/host-check.js";
import { createMetricsApp } from "../../server/metrics-routes.js";
import {
  addRoutingFlags,
  configFromFlags,
  positiveInt,
  progress,
  type RoutingFlags,
  splitSpec,
} from "../common-options.js";
import { defaultExpertsDir } from "../open-herd.js";
import { checkName, UsageError } from "../usage-error.js";
import { DEMO_NOTICE, demoConfig } from "./serve-demo.js";

interface ServeFlags extends RoutingFlags {
  port: number;
  host: string;
  onlyBase?: boolean;
  provider?: string;
  apiKeyBackend?: string;
  apiKey?: string;
  demo?: boolean;
  concurrency?: number;
  drainTimeout: number;
  allowedHosts?: string[];
  cors?: string[];
  metricsPort?: number;
  ui: boolean;
  timeout?: number;
}

/** How long SIGINT/SIGTERM waits for in-flight requests before cutting them. */
const DRAIN_SECONDS = 30;

/**
 * `herd serve`: the OpenAI-compatible server. Listens, prints where and what it routes to, and on
 * SIGINT/SIGTERM stops accepting, lets in-flight requests finish, then exits.
 */
export function registerServeCommand(program: Command): void {
  addRoutingFlags(
    program
      .command("serve")
      .description(
        "serve an OpenAI-compatible API (/v1/chat/completions) that routes each prompt to its expert",
      )
      .option("-p, --port <port>", "the port to listen on", portNumber, 8000)
      .option("-i, --host <host>", "the address to listen on (0.0.0.0 for every interface)", "127.0.0.1")
      .option("--only-base", "no routing: every request goes to the base model")
      .option(
        "--provider <name>",
        "the chat backend: ollama | llamacpp:MODEL.gguf | vllm:URL | lorax:URL | llama-server:URL (default: ollama)",
      )
      .option(
        "--api-key-backend <key>",
        "bearer key for the engine (vllm, lorax, llama-server --api-key) (default: $HERD_BACKEND_API_KEY)",
      )
      .option("--api-key <key>", "require 'Authorization: Bearer <key>' on /v1 (default: $HERD_API_KEY)")
      .option(
        "--demo",
        "offline demo: a generated tiny llama.cpp model with one LoRA per expert (gibberish text)",
      )
      .option(
        "--concurrency <n>",
        "generations run at once on the backend; more wait",
        positiveInt("--concurrency"),
      )
      .option(
        "--allowed-hosts <hosts>",
        "Host names clients may use besides localhost and IP addresses, comma-separated ('*': any)",
        commaList,
      )
      .option(
        "--cors <origins>",
        "let web pages at these origins call the API (CORS), comma-separated ('*': any)",
        commaList,
      )
      .option(
        "--metrics-port <port>",
        "serve GET /metrics on this port, without the API key (default: on --port, behind --api-key)",
        portNumber,
      )
      .option("--no-ui", "do not serve the routing playground page at /")
      .option(
        "--timeout <seconds>",
        "give up on a backend that sends nothing for this long: before its first byte and between chunks (default: 60)",
        timeoutSeconds,
      )
      .option(
        "--drain-timeout <seconds>",
        "on SIGINT/SIGTERM, wait this long for requests",
        positiveInt("--drain-timeout"),
        DRAIN_SECONDS,
      ),
  ).action(async (flags: ServeFlags) => {
    if (flags.demo) rejectDemoConflicts(flags);
    // The demo writes its model and adapters, then loads them: one step more than the files.
    const demoProgress = flags.demo ? progress("demo start-up") : undefined;
    let demoSteps = 0;
    const config = flags.demo
      ? await demoConfig(flags, (done, total) => {
          demoSteps = total + 1;
          demoProgress?.(done, demoSteps);
        })
      : await configFromFlags(flags, defaultExpertsDir());
    if (!flags.demo && flags.provider) applyProvider(config, flags.provider);
    if (flags.apiKeyBackend) applyBackendKey(config, flags.apiKeyBackend);
    if (flags.concurrency) config.concurrency = { ...config.concurrency, generation: flags.concurrency };
    config.plugins = withObservability(config.plugins);
    if (flags.timeout !== undefined) {
      const ms = Math.round(flags.timeout * 1000);
      config.timeouts = { ...config.timeouts, firstByteMs: ms, idleMs: ms };
    }
    const herd = await createHerd(config);
    if (demoSteps > 0) demoProgress?.(demoSteps, demoSteps);
    const apiKey = flags.apiKey ?? process.env.HERD_API_KEY;
    const hosts = allowedHosts(flags.allowedHosts ?? herd.config.server.allowedHosts ?? [], flags.host);
    const cors = flags.cors ?? herd.config.server.cors;
    const metrics = herd.plugins.find((p): p is MetricsPlugin => p instanceof MetricsPlugin);
    const separateMetrics = metrics !== undefined && flags.metricsPort !== undefined;
    const app = createApp(herd, {
      apiKey,
      onlyBase: flags.onlyBase,
      allowedHosts: hosts,
      cors,
      metrics,
      metricsEndpoint: !separateMetrics,
      ui: flags.ui,
    });
    let server: Server | undefined;
    let metricsServer: Server | undefined;
    try {
      server = await listen(app, flags.port, flags.host);
      if (separateMetrics) {
        metricsServer = await listen(
          createMetricsApp(metrics, { allowedHosts: hosts }),
          flags.metricsPort!,
          flags.host,
          "--metrics-port",
        );
      }
    } catch (error) {
      server?.close();
      await herd.close();
      throw error;
    }
    const tracker = trackShutdown(server);
    process.stdout.write(
      startupMessage(herd, server, { ...flags, apiKey, allowedHosts: hosts, cors }, metricsServer),
    );
    // Not fatal: the backend may come up later, and /health keeps reporting.
    herd.health().catch((error: unknown) => {
      process.stderr.write(`herd serve: warning: ${errorMessage(error)}\n`);
    });
    await shutdownSignal();
    process.stderr.write(
      `herd serve: shutting down, finishing ${tracker.inFlight} in-flight request(s)...\n`,
    );
    const finished = await tracker.drain(flags.drainTimeout * 1000);
    if (!finished) process.stderr.write("herd serve: cut requests still running after the drain timeout\n");
    metricsServer?.close();
    await herd.close();
  });
}

/** `herd serve` always collects metrics (and traces, when OpenTelemetry is set up): adds the plugins unless listed. */
function withObservability(plugins: HerdConfigInput["plugins"]): HerdConfigInput["plugins"] {
  const list = [...(plugins ?? ["expert-override"])];
  const named = (name: string) => list.some((p) => (typeof p === "string" ? p : p.name) === name);
  if (!named("metrics")) list.push("metrics");
  if (!named("tracing")) list.push("tracing");
  return list;
}

/** The demo picks its own backend, embedder and index; say so rather than ignore a flag. */
function rejectDemoConflicts(flags: ServeFlags): void {
  const given = (
    [
      ["--provider", flags.provider],
      ["--config-file", flags.configFile],
      ["--embedder", flags.embedder],
      ["--index", flags.index],
      ["--chroma-url", flags.chromaUrl],
      ["--ollama-url", flags.ollamaUrl],
    ] as const
  ).filter(([, value]) => value !== undefined);
  if (given.length > 0) {
    const names = given.map(([name]) => name).join(", ");
    throw new UsageError(
      `--demo runs its own offline model, embedder and index; drop ${names}, or drop --demo to use them.`,
    );
  }
}

/** `a,b` -> ["a", "b"]. */
function commaList(value: string): string[] {
  const items = value
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");
  if (items.length === 0) throw new InvalidArgumentError("give at least one name.");
  return items;
}

/** The allowed Host names plus the address the server is bound to (unless it is every interface). */
function allowedHosts(configured: readonly string[], bound: string): string[] {
  const everywhere = ["0.0.0.0", "::", "[::]", ""].includes(bound.trim());
  return everywhere ? [...configured] : [...configured, bound];
}

/** `--timeout 90` or `--timeout 2.5`: seconds, at least 1 ms, at most what a timer can hold. */
function timeoutSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds * 1000 < 1 || seconds * 1000 > MAX_TIMEOUT_MS) {
    throw new InvalidArgumentError("the timeout must be a number of seconds, e.g. 60 or 2.5.");
  }
  return seconds;
}

function portNumber(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError("the port must be a whole number from 0 to 65535.");
  }
  return port;
}

/** `--provider ollama`, `--provider llamacpp:path/to/model.gguf` or `--provider vllm:http://host:8000`. */
function applyProvider(config: HerdConfigInput, spec: string): void {
  const [name, setting] = splitSpec(spec);
  checkName("--provider", "chatProviders", name);
  const provider: Record<string, unknown> = { ...((config.provider as object | undefined) ?? {}), name };
  if (name === "llamacpp") {
    if (!setting) throw new UsageError("--provider llamacpp needs a model: --provider llamacpp:base.gguf");
    provider.modelPath = resolve(setting); // relative to where the command runs
    // The base model is this file: name it so (experts.json's baseModel is usually an Ollama tag).
    config.baseModel ??= basename(setting).replace(/\.gguf$/i, "");
  } else if (ENGINES.has(name)) {
    if (!setting)
      throw new UsageError(`--provider ${name} needs the engine's URL: --provider ${name}:http://HOST:PORT`);
    if (!/^https?:\/\/[^/]/i.test(setting) || !URL.canParse(setting))
      throw new UsageError(
        `--provider ${name}:${setting} is not an http(s) URL: give it as --provider ${name}:http://HOST:PORT.`,
      );
    provider.url = setting;
  } else if (setting) {
    throw new UsageError(`--provider ${name} takes no ":${setting}" setting: give just --provider ${name}.`);
  }
  config.provider = provider as HerdConfigInput["provider"];
}

/** The serving engines `--provider NAME:URL` accepts. */
const ENGINES = new Set(["vllm", "lorax", "llama-server"]);

/** `--api-key-backend KEY`: the engine's bearer key (config `provider.apiKey`). */
function applyBackendKey(config: HerdConfigInput, key: string): void {
  const provider = (config.provider as Record<string, unknown> | undefined) ?? {};
  if (!ENGINES.has(String(provider.name ?? "ollama"))) {
    throw new UsageError(
      `--api-key-backend applies to --provider vllm | lorax | llama-server, not ${String(provider.name ?? "ollama")}.`,
    );
  }
  config.provider = { ...provider, apiKey: key } as HerdConfigInput["provider"];
}

function listen(
  app: ReturnType<typeof createApp>,
  port: number,
  host: string,
  flag: "--port" | "--metrics-port" = "--port",
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once("listening", () => resolve(server));
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") {
        reject(
          new ConfigError(
            `Port ${port} on ${host} is already in use: stop the other server or pick another port with ${flag}.`,
            flag,
          ),
        );
      } else if (error.code === "EADDRNOTAVAIL" || error.code === "ENOTFOUND") {
        reject(
          new ConfigError(
            `Cannot listen on ${host}: it is not an address of this machine. Use --host 127.0.0.1 or 0.0.0.0.`,
            "--host",
          ),
        );
      } else {
        reject(error);
      }
    });
  });
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function shutdownSignal(): Promise<void> {
  return new Promise((resolve) => {
    const first = () => {
      process.once("SIGINT", force);
      process.once("SIGTERM", force);
      resolve();
    };
    const force = () => {
      process.stderr.write("herd serve: second signal, exiting now\n");
      process.exit(130);
    };
    process.once("SIGINT", () => {
      process.off("SIGTERM", first);
      first();
    });
    process.once("SIGTERM", () => {
      process.off("SIGINT", first);
      first();
    });
  });
}

/** Where the server listens and what it routes to, plus a curl line to try. */
function startupMessage(
  herd: Herd,
  server: Server,
  flags: ServeFlags & { apiKey?: string },
  metricsServer?: Server,
): string {
  const origin = originOf(server);
  const url = `${origin}/v1`;
  const experts = herd.experts.map((e) => e.name);
  const lines = [
    `Herd is serving an OpenAI-compatible API at ${url}`,
    flags.onlyBase
      ? `  routing: off (--only-base), every request goes to the base model ${herd.baseModel}`
      : `  routing: ${experts.length} experts (${experts.join(", ")}) over the base model ${herd.baseModel}`,
    `  ${backendLine(herd)}`,
    `  models: herd (routed)${flags.onlyBase ? "" : ", herd:<expert> (forced)"}, ${herd.baseModel} (base only)`,
    `  auth: ${flags.apiKey ? "Authorization: Bearer <your --api-key> required" : "none (pass --api-key to require a key)"}`,
    `  hosts: ${flags.allowedHosts?.includes("*") ? "any Host header" : [...new Set([...LOCAL_HOSTS, ...(flags.allowedHosts ?? [])])].join(", ")}${flags.allowedHosts?.includes("*") ? "" : ", any IP address (other names: --allowed-hosts)"}`,
    `  browsers: ${flags.cors?.length ? `CORS for ${flags.cors.join(", ")}` : "no cross-origin access (--cors ORIGIN to allow a web app)"}`,
    `  metrics: ${metricsServer ? `${originOf(metricsServer)}/metrics` : `${origin}/metrics`}`,
  ];
  if (flags.ui) lines.push(`  playground: ${origin}/ (open it in a browser)`);
  if (flags.demo) lines.push("", DEMO_NOTICE);
  lines.push(
    "",
    `Try: curl ${url}/chat/completions -H 'content-type: application/json'${flags.apiKey ? " -H 'authorization: Bearer <key>'" : ""} \\`,
    `       -d '{"model":"herd","messages":[{"role":"user","content":"Write a haiku about routers"}]}'`,
    "Press Ctrl+C to stop (in-flight requests finish first).",
    "",
  );
  return `${lines.join("\n")}\n`;
}

/** `http://host:port` of a listening server. */
function originOf(server: Server): string {
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

/** The chat backend (and where it is), the embedder and the index. */
function backendLine(herd: Herd): string {
  const settings = herd.config.provider as Record<string, unknown>;
  const where =
    typeof settings.url === "string"
      ? ` at ${settings.url}`
      : typeof settings.modelPath === "string"
        ? ` with ${settings.modelPath}`
        : "";
  return `backend: ${herd.provider.name}${where}; embedder ${herd.embedder.id}; index ${herd.index.kind}`;
}
