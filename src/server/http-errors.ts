import { HerdError, type HerdErrorOptions } from "../core/errors.js";

/** The request has no API key or the wrong one (only when `herd serve --api-key` is set). */
export class AuthenticationError extends HerdError {
  override readonly code = "invalid_api_key";
  constructor(message: string, options: HerdErrorOptions = {}) {
    super(message, { status: 401, ...options });
  }
}

/** The request names a model the facade does not serve. Lists the ones it does. */
export class UnknownModelError extends HerdError {
  override readonly code = "model_not_found";
  constructor(
    readonly model: string,
    readonly known: readonly string[],
    options: HerdErrorOptions = {},
  ) {
    const shown = model.length > 100 ? `${model.slice(0, 100)}...` : model;
    const listed = known.length > 12 ? `${known.slice(0, 12).join(", ")}, ...` : known.join(", ");
    super(`The model \`${shown}\` does not exist. Use one of: ${listed} (GET /v1/models lists them all).`, {
      status: 404,
      ...options,
    });
  }
}

/** The request body is larger than the server accepts. */
export class PayloadTooLargeError extends HerdError {
  override readonly code = "request_too_large";
  constructor(
    readonly limit: number,
    options: HerdErrorOptions = {},
  ) {
    super(
      `The request body is larger than the limit of ${limit} bytes. Send a shorter conversation or start the server with a larger body limit.`,
      { status: 413, ...options },
    );
  }
}

/** No route matches the method and path. */
export class RouteNotFoundError extends HerdError {
  override readonly code = "unknown_url";
  constructor(method: string, path: string, options: HerdErrorOptions = {}) {
    super(
      `Unknown request URL: ${method} ${path}. Herd serves POST /v1/chat/completions, GET /v1/models, POST /v1/route and GET /health.`,
      { status: 404, ...options },
    );
  }
}

/** A POST whose body is not declared as JSON (`Content-Type: application/json`). */
export class UnsupportedMediaTypeError extends HerdError {
  override readonly code = "unsupported_media_type";
  constructor(contentType: string | undefined, options: HerdErrorOptions = {}) {
    const given =
      contentType === undefined ? "no Content-Type" : `Content-Type '${contentType.slice(0, 80)}'`;
    super(`The request has ${given}: send the JSON body with 'Content-Type: application/json'.`, {
      status: 415,
      ...options,
    });
  }
}

/**
 * The request's Host header names a host the server does not answer for: a guard against DNS
 * rebinding, where a web page reaches a local server under the page's own domain name.
 */
export class HostNotAllowedError extends HerdError {
  override readonly code = "host_not_allowed";
  constructor(
    readonly host: string,
    allowed: readonly string[],
    options: HerdErrorOptions = {},
  ) {
    const shown = host.length > 100 ? `${host.slice(0, 100)}...` : host;
    super(
      `The Host '${shown}' is not allowed; this server answers for ${allowed.join(", ")}. ` +
        `If clients reach it under that name, start it with --allowed-hosts ${shown} (or the config's server.allowedHosts; "*" allows any).`,
      { status: 403, ...options },
    );
  }
}

/** A CORS preflight from a web page origin that is not allowed (`herd serve --cors`). */
export class OriginNotAllowedError extends HerdError {
  override readonly code = "origin_not_allowed";
  constructor(
    readonly origin: string,
    options: HerdErrorOptions = {},
  ) {
    const shown = origin.length > 100 ? `${origin.slice(0, 100)}...` : origin;
    super(
      `Requests from web pages at '${shown}' are not allowed. Start the server with --cors ${shown} (or the config's server.cors) to allow them.`,
      { status: 403, ...options },
    );
  }
}
