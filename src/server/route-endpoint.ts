import type { Request, Response } from "express";
import { InvalidInputError } from "../core/errors.js";
import type { RouteOptions, RoutingDecision } from "../core/routing.js";
import { ROUTED_MODEL, resolveModel } from "./models.js";
import { readJsonBody } from "./read-json-body.js";
import { routeRequestSchema } from "./request-schema.js";
import type { ServedHerd } from "./served-herd.js";
import { translateMessages } from "./translate-request.js";
import { validate } from "./validate.js";

/**
 * `POST /v1/route`: the routing decision alone, for debugging routing without generating.
 * Body: `{"messages": [...]}` (as for chat completions) or `{"input": "text"}`, plus optional
 * `top_experts` and `model` (`herd:<expert>` forces, the base model skips routing). Answers with the
 * routing decision as `herd route --json` prints it, plus `"object": "herd.route"`.
 */
export function routeHandler(
  herd: ServedHerd,
  options: {
    bodyLimit: number;
    onlyBase: boolean;
    /** Called with each decision made (the metrics plugin counts it). */
    onDecision?: (decision: RoutingDecision) => void;
    /** Called when routing itself fails (the embedder or the index is down, say). */
    onFailure?: (error: unknown) => void;
  },
) {
  return async (req: Request, res: Response): Promise<void> => {
    const body = validate(routeRequestSchema, await readJsonBody(req, { limit: options.bodyLimit }));
    const input = body.messages ? translateMessages(body.messages) : body.input;
    if (input == null || input === "") {
      throw new InvalidInputError(
        "Send 'messages' (an array of chat messages) or 'input' (a text) to route.",
        "input",
      );
    }
    const routeOptions: RouteOptions = {};
    if (body.top_experts != null) routeOptions.topExperts = body.top_experts;
    const choice = resolveModel(body.model ?? ROUTED_MODEL, herd, options.onlyBase);
    if (choice.kind === "base") routeOptions.baseOnly = true;
    if (choice.kind === "expert") routeOptions.experts = [choice.expert];
    let decision: RoutingDecision;
    try {
      decision = await herd.route(input, routeOptions);
    } catch (error) {
      options.onFailure?.(error);
      throw error;
    }
    options.onDecision?.(decision);
    res.json({ object: "herd.route", ...decision });
  };
}
