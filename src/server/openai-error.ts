import {
  ConfigError,
  HerdError,
  InvalidInputError,
  ProviderResponseError,
  ProviderUnavailableError,
} from "../core/errors.js";

/** The OpenAI error body: `{"error": {"message", "type", "param", "code"}}`, all four keys present. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error ready to send: the HTTP status and the OpenAI-shaped body. */
export interface OpenAIError {
  status: number;
  body: OpenAIErrorBody;
}

/**
 * Maps anything thrown while serving a request to an OpenAI error. HerdErrors keep their status
 * (400 bad input, 401 key, 404 model/expert, 413 body, 502/503 backend) and code; anything else is a 500.
 */
export function toOpenAIError(error: unknown): OpenAIError {
  if (!HerdError.isInstance(error)) {
    const foreign = clientStatus(error);
    if (foreign !== undefined) {
      const message = error instanceof Error ? error.message : "Bad request.";
      return {
        status: foreign,
        body: { error: { message, type: typeFor(foreign), param: null, code: null } },
      };
    }
    const detail = error instanceof Error ? error.message : String(error);
    return {
      status: 500,
      body: {
        error: {
          message: `The server had an error while processing your request: ${detail}`,
          type: "server_error",
          param: null,
          code: null,
        },
      },
    };
  }
  const status = error.status >= 400 && error.status <= 599 ? error.status : 500;
  return {
    status,
    body: {
      error: { message: messageOf(error), type: typeFor(status), param: paramOf(error), code: error.code },
    },
  };
}

/** The 4xx status a foreign error carries (Express and its router set `status` on bad URLs). */
function clientStatus(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const value = typeof status === "number" ? status : statusCode;
  return typeof value === "number" && value >= 400 && value <= 499 ? value : undefined;
}

/** The OpenAI `type` for a status, as the OpenAI API (and Ollama's compatible endpoint) name them. */
function typeFor(status: number): string {
  if (status === 401) return "invalid_request_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

function paramOf(error: HerdError): string | null {
  if (error instanceof InvalidInputError) return error.param ?? null;
  if (error instanceof ConfigError) return error.field ?? null;
  return null;
}

/** Backend errors always name the backend's address, so the operator knows what to start or fix. */
function messageOf(error: HerdError): string {
  const url =
    error instanceof ProviderUnavailableError || error instanceof ProviderResponseError
      ? error.url
      : undefined;
  if (url && !error.message.includes(url)) return `${error.message} (backend: ${url})`;
  return error.message;
}
