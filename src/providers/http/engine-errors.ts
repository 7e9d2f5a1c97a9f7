import { type HerdError, ModelNotFoundError, ProviderResponseError } from "../../core/errors.js";

/** An engine's error reply reduced to what every shape has: the message and, when given, a type. */
export interface EngineErrorBody {
  message: string;
  /** `NotFoundError`, `invalid_request_error`, LoRAX's `error_type` (`validation`, `overloaded`, ...). */
  type?: string;
  /** The HTTP status the body itself names (vLLM's `code`, LoRAX's `error_type`), for errors inside a stream. */
  status?: number;
}

/** What the error mapping needs to know about the engine and the call. */
export interface EngineErrorContext {
  /** A human name, e.g. `vLLM`. */
  service: string;
  baseUrl: string;
  /** The model (adapter name or id) the call asked for, when it asked for one. */
  model?: string;
  /** How to make an unknown model or adapter servable, e.g. "Start vLLM with --lora-modules ...". */
  notFoundHint?: (model: string) => string;
}

/** LoRAX's `error_type` values and the statuses its router answers them with. */
const LORAX_STATUS: Record<string, number> = {
  validation: 422,
  template_error: 422,
  tool_error: 422,
  generation: 424,
  overloaded: 429,
  incomplete_generation: 500,
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const own = (o: Record<string, unknown>, key: string): unknown =>
  Object.hasOwn(o, key) ? o[key] : undefined;
const httpStatus = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v >= 400 && v <= 599 ? v : undefined;

/**
 * Reads every error shape the engines send: OpenAI's and vLLM's (>= 0.10.1) and llama-server's
 * `{error:{message,type,param,code}}`, vLLM's flat pre-0.10.1 `{object:"error",message,type,code}`,
 * LoRAX's `{error:"...",error_type}`, FastAPI's `{detail}`. Returns undefined for anything else.
 */
export function parseEngineErrorBody(body: unknown): EngineErrorBody | undefined {
  if (!isRecord(body)) return undefined;
  const error = own(body, "error");
  if (isRecord(error) && typeof own(error, "message") === "string") {
    const type = own(error, "type");
    return {
      message: own(error, "message") as string,
      type: typeof type === "string" ? type : undefined,
      status: httpStatus(own(error, "code")),
    };
  }
  if (typeof error === "string") {
    const type = own(body, "error_type");
    const t = typeof type === "string" ? type : undefined;
    return {
      message: error,
      type: t,
      status: t && Object.hasOwn(LORAX_STATUS, t) ? LORAX_STATUS[t] : undefined,
    };
  }
  if (typeof own(body, "message") === "string") {
    const type = own(body, "type");
    return {
      message: own(body, "message") as string,
      type: typeof type === "string" ? type : undefined,
      status: httpStatus(own(body, "code")),
    };
  }
  const detail = own(body, "detail");
  if (typeof detail === "string") return { message: detail };
  return undefined;
}

/** The body text of a reply parsed as an engine error, or its first 300 characters as the message. */
export function engineErrorFromText(text: string): EngineErrorBody {
  try {
    const parsed = parseEngineErrorBody(JSON.parse(text));
    if (parsed) return parsed;
  } catch {
    // not JSON: the text is the message
  }
  return { message: text.trim().slice(0, 300) };
}

const NOT_FOUND =
  /does not exist|not found|cannot be found|no such|can.t find|could not find|not loaded|no [\w ]*found/i;

/**
 * The one mapping from an engine's error to Herd's errors. `status` is the HTTP status, or undefined
 * for an error event inside a 200 stream (then the body's own code or LoRAX error_type decides).
 * - an unknown model/adapter -> ModelNotFoundError (404) whose message names the fix;
 * - 401/403 -> says to pass the engine's key (`--api-key-backend`, config `provider.apiKey`);
 * - 400/422 (the engine refused the request) -> 400; 429/503 keep their status (retryable);
 * - anything else -> ProviderResponseError (502), with the engine's message.
 */
export function engineError(
  context: EngineErrorContext,
  status: number | undefined,
  body: EngineErrorBody,
  path: string,
): HerdError {
  const where = `${context.service} at ${context.baseUrl}`;
  const code = status ?? body.status;
  const said = `${body.message || "(no message)"}${body.type ? ` [${body.type}]` : ""}`;
  const model = context.model;
  const notFound =
    code === 404 ||
    (code !== undefined &&
      code < 500 &&
      code !== 429 &&
      NOT_FOUND.test(body.message) &&
      body.message.includes(model ?? "\u0000"));
  if (model !== undefined && notFound) {
    const hint = context.notFoundHint?.(model) ?? "";
    return new ModelNotFoundError(
      model,
      `${where} does not serve "${model}" (${said}).${hint ? ` ${hint}` : ""}`,
      context.baseUrl,
    );
  }
  if (code === 401 || code === 403) {
    return new ProviderResponseError(
      `${where} refused the request to ${path} (${code}: ${said}). Pass the engine's API key with --api-key-backend KEY (config provider.apiKey).`,
      code,
      context.baseUrl,
    );
  }
  const message = `${where} answered ${code ?? "an error"} for ${path}: ${said}`;
  if (code === 400 || code === 422) {
    return new ProviderResponseError(message, code, context.baseUrl, { status: 400, isRetryable: false });
  }
  return new ProviderResponseError(message, code, context.baseUrl);
}
