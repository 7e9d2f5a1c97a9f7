import { InvalidInputError } from "./errors.js";
import type { RouteInput, RoutingTextMode } from "./routing.js";

/** Picks the text of a prompt or chat that the router embeds. Throws on an empty prompt. */
export function routingText(input: RouteInput, mode: RoutingTextMode = "last-user"): string {
  let text: string;
  if (typeof input === "string") {
    text = input;
  } else if (mode === "all") {
    text = input.map((m) => m.content).join("\n");
  } else {
    const users = input.filter((m) => m.role === "user" || m.role === "human");
    if (mode === "all-user") text = users.map((m) => m.content).join("\n");
    else text = (users.at(-1) ?? input.at(-1))?.content ?? "";
  }
  if (text.trim() === "") {
    throw new InvalidInputError(
      typeof input === "string"
        ? "The prompt is empty: give some text to route."
        : "There is no text to route: send at least one non-empty user message.",
      typeof input === "string" ? "prompt" : "messages",
    );
  }
  return text;
}
