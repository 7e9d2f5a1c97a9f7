import type { Request, Response } from "express";
import { HerdError, type HerdErrorOptions } from "../core/errors.js";
import { bearerAuth } from "./auth.js";
import type { ServedHerd } from "./served-herd.js";

/** The path of the endpoint that makes a running server re-read experts.json. */
export const EXPERTS_RELOAD_PATH = "/admin/experts/reload";

/** An admin endpoint was called on a server that has no API key (admin endpoints need one). */
export class AdminDisabledError extends HerdError {
  override readonly code = "admin_disabled";
  constructor(message: string, options: HerdErrorOptions = {}) {
    super(message, { status: 403, ...options });
  }
}

/**
 * `POST /admin/experts/reload`: re-reads experts.json and applies it without a restart (see
 * `Herd.reloadExperts`); answers with what changed, the chat backend's warnings and the experts
 * served now, or 409 `experts_not_served` (nothing changed) when the backend cannot serve a new
 * expert. Always needs
 * `Authorization: Bearer <key>`: without `herd serve --api-key` the endpoint refuses with 403.
 * Reloads run one at a time.
 */
export function expertsReloadHandler(herd: ServedHerd, apiKey: string | undefined) {
  const check = apiKey ? bearerAuth(apiKey) : undefined;
  let queue: Promise<unknown> = Promise.resolve();
  return async (req: Request, res: Response): Promise<void> => {
    if (!check) {
      throw new AdminDisabledError(
        `${EXPERTS_RELOAD_PATH} is off: start herd serve with --api-key (or HERD_API_KEY) to enable admin endpoints.`,
      );
    }
    check(req);
    const reload = herd.reloadExperts;
    if (typeof reload !== "function") {
      throw new AdminDisabledError("This server's Herd cannot reload its experts.");
    }
    const run = queue.then(() => reload.call(herd));
    queue = run.catch(() => undefined);
    const change = await run;
    res.json({
      object: "herd.experts.reload",
      ...(typeof change === "object" && change !== null ? change : {}),
      experts: herd.experts.map((e) => e.name),
    });
  };
}
