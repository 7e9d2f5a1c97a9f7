const MARKER = Symbol.for("herd.error");

/** Options shared by every Herd error. */
export interface HerdErrorOptions {
  /** The underlying error, when this one wraps another. */
  cause?: unknown;
  /** The HTTP status this error maps to when it reaches the server facade. @default 500 */
  status?: number;
  /** Whether retrying the same call may succeed. @default false */
  isRetryable?: boolean;
}

/**
 * The base of every error Herd throws. Messages say what was wrong and how to fix it.
 * Use `HerdError.isInstance(e)` rather than `instanceof` across package copies.
 */
export class HerdError extends Error {
  /** Marks Herd errors across package copies (see isInstance). */
  readonly [MARKER] = true;
  /** A stable, machine-readable code, e.g. `unknown_expert`. */
  readonly code: string = "herd_error";
  readonly status: number;
  readonly isRetryable: boolean;

  constructor(message: string, options: HerdErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = options.status ?? 500;
    this.isRetryable = options.isRetryable ?? false;
  }

  /** True for any HerdError, also one created by another copy of this package. */
  static isInstance(error: unknown): error is HerdError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}

/** A configuration value (config file, CLI flag, call option) is invalid. Names the field. */
export class ConfigError extends HerdError {
  override readonly code = "invalid_config";
  constructor(
    message: string,
    /** The dotted path of the bad field, e.g. `router.topExperts`. */
    readonly field?: string,
    options: HerdErrorOptions = {},
  ) {
    super(message, { status: 400, ...options });
  }
}

/** Machine-readable reasons an input is refused, as OpenAI names them. */
export type InvalidInputCode =
  | "invalid_value"
  | "missing_required_parameter"
  | "unsupported_parameter"
  | "unsupported_value"
  | "context_length_exceeded";

/**
 * A request or input (prompt, messages, data file line) is invalid. `code` says how:
 * `invalid_value` (default), `missing_required_parameter`, `unsupported_parameter` (Herd or the
 * provider cannot do what the field asks), `unsupported_value`, `context_length_exceeded`.
 */
export class InvalidInputError extends HerdError {
  override readonly code: InvalidInputCode;
  constructor(
    message: string,
    /** The field or location that was wrong, e.g. `messages[2].content` or `data.jsonl:14`. */
    readonly param?: string,
    options: HerdErrorOptions & { code?: InvalidInputCode } = {},
  ) {
    super(message, { status: 400, ...options });
    this.code = options.code ?? "invalid_value";
  }
}

/** A name looked up in a registry (embedder, index, provider, plugin, strategy) is not registered. */
export class UnknownNameError extends HerdError {
  override readonly code = "unknown_name";
  constructor(
    /** What kind of thing was looked up, e.g. `embedder`. */
    readonly kind: string,
    /** The name that was looked up and not found. */
    readonly unknownName: string,
    /** The names that are registered. */
    readonly known: readonly string[],
    options: HerdErrorOptions = {},
  ) {
    const kinds = /(x|s|ch)$/.test(kind) ? `${kind}es` : `${kind}s`; // index -> indexes
    super(`Unknown ${kind} "${unknownName}". Known ${kinds}: ${known.join(", ") || "(none)"}.`, {
      status: 400,
      ...options,
    });
  }
}

/** An expert name that is not in the expert set. */
export class UnknownExpertError extends HerdError {
  override readonly code = "unknown_expert";
  constructor(
    readonly expert: string,
    readonly known: readonly string[],
    options: HerdErrorOptions = {},
  ) {
    super(`Unknown expert "${expert}". Known experts: ${known.join(", ") || "(none)"}.`, {
      status: 404,
      ...options,
    });
  }
}

/** experts.json (or an expert given through the API) is malformed. */
export class ExpertConfigError extends HerdError {
  override readonly code = "invalid_experts";
  constructor(message: string, options: HerdErrorOptions = {}) {
    super(message, { status: 500, ...options });
  }
}

/**
 * A reload of the experts (`Herd.reloadExperts`, POST /admin/experts/reload) found experts the chat
 * backend answers it cannot serve: nothing was changed (409, experts.json and the backend disagree).
 * The message names each expert and how to make the backend serve it; then reload again.
 */
export class ExpertsNotServedError extends HerdError {
  override readonly code = "experts_not_served";
  constructor(
    /** The experts the backend cannot serve. */
    readonly experts: string[],
    message: string,
    options: HerdErrorOptions = {},
  ) {
    super(message, { status: 409, ...options });
  }
}

/** Stored vectors and the embedder disagree on the dimension. */
export class DimensionMismatchError extends HerdError {
  override readonly code = "dimension_mismatch";
  constructor(message: string, options: HerdErrorOptions = {}) {
    super(message, { status: 500, ...options });
  }
}

/** A backend (Ollama, Chroma, an OpenAI-compatible server) could not be reached. */
export class ProviderUnavailableError extends HerdError {
  override readonly code = "provider_unavailable";
  constructor(
    message: string,
    /** The address that was tried. */
    readonly url?: string,
    options: HerdErrorOptions = {},
  ) {
    super(message, { status: 503, isRetryable: true, ...options });
  }
}

/** A backend answered with an error. Carries the backend's status and body text. */
export class ProviderResponseError extends HerdError {
  override readonly code: string = "provider_error";
  constructor(
    message: string,
    /** The status the backend answered with. */
    readonly providerStatus?: number,
    readonly url?: string,
    options: HerdErrorOptions = {},
  ) {
    super(message, {
      // 404 (no such model), 429 and 503 (busy: retry later) keep their meaning; other failures are a bad gateway.
      status:
        providerStatus === 404 || providerStatus === 429 || providerStatus === 503 ? providerStatus : 502,
      isRetryable: providerStatus === undefined || providerStatus === 429 || providerStatus >= 500,
      ...options,
    });
  }
}

/**
 * A backend sent a reply larger than Herd reads whole (a non-streamed chat reply, a model list, an
 * embeddings batch). Herd stopped reading at the limit and closed the connection, so a broken or
 * hostile backend cannot make it hold an unbounded body. Not retryable: the same call gets the same reply.
 */
export class ReplyTooLargeError extends ProviderResponseError {
  override readonly code = "reply_too_large";
  constructor(
    message: string,
    /** The limit the reply went past, in bytes. */
    readonly limit: number,
    url?: string,
    options: HerdErrorOptions = {},
  ) {
    super(message, undefined, url, { isRetryable: false, ...options });
  }
}

/**
 * A backend call ran out of time (a `timeouts` phase: connect, first byte, idle or total). The call
 * was aborted and its generation slot freed; retrying may succeed once the backend recovers.
 */
export class BackendTimeoutError extends HerdError {
  override readonly code = "timeout";
  constructor(
    message: string,
    /** The limit that ran out: `connectMs`, `firstByteMs`, `idleMs`, `totalMs`, or `health` (GET /health's bound). */
    readonly phase: string,
    /** The backend's address. */
    readonly url?: string,
    options: HerdErrorOptions = {},
  ) {
    super(message, { status: 504, isRetryable: true, ...options });
  }
}

/**
 * The backend does not have a model Herd routed to (an expert model that was never built, a base
 * model not pulled). A server-side problem, not the client's: 503 with code `model_not_built`
 * (or `model_not_pulled` for a base model), never the client-facing `model_not_found` 404.
 */
export class ModelNotFoundError extends ProviderResponseError {
  override readonly code: "model_not_built" | "model_not_pulled";
  constructor(
    /** The model name that was asked for. */
    readonly model: string,
    message: string,
    url?: string,
    options: HerdErrorOptions & { code?: "model_not_built" | "model_not_pulled" } = {},
  ) {
    super(message, 404, url, { status: 503, isRetryable: false, ...options });
    this.code = options.code ?? "model_not_built";
  }
}

/** A model, adapter or data file is missing, corrupt or does not fit the base model. */
export class FileFormatError extends HerdError {
  override readonly code = "invalid_file";
  constructor(
    message: string,
    /** The file that was wrong. */
    readonly file?: string,
    options: HerdErrorOptions = {},
  ) {
    super(message, { status: 500, ...options });
  }
}

/** An optional runtime (node-llama-cpp, ...) is needed but not installed. */
export class MissingDependencyError extends HerdError {
  override readonly code = "missing_dependency";
  constructor(
    /** The npm package to install. */
    readonly packageName: string,
    purpose: string,
    options: HerdErrorOptions = {},
  ) {
    super(
      `${purpose} needs the optional package "${packageName}". Install it with: npm install ${packageName}`,
      {
        status: 500,
        ...options,
      },
    );
  }
}

/** The caller aborted the operation. */
export class AbortError extends HerdError {
  override readonly code = "aborted";
  constructor(message = "The operation was aborted.", options: HerdErrorOptions = {}) {
    super(message, { status: 499, ...options });
  }
}

/** A plugin threw. The request fails with this error; the process keeps running. */
export class PluginError extends HerdError {
  override readonly code = "plugin_error";
  constructor(
    readonly plugin: string,
    readonly hook: string,
    options: HerdErrorOptions = {},
  ) {
    const cause = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`Plugin "${plugin}" failed in ${hook}: ${cause}`, { status: 500, ...options });
  }
}

/** Formats any thrown value as one readable line (for CLIs and logs). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
