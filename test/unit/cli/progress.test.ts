import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { progress } from "../../../src/cli/common-options.js";

/** A stderr stand-in that records what was written; `tty` makes it look like a terminal. */
function stream(tty: boolean) {
  let text = "";
  const out = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  }) as Writable & Partial<NodeJS.WriteStream>;
  const done = (cb?: unknown) => {
    if (typeof cb === "function") cb();
    return true;
  };
  Object.assign(out, {
    isTTY: tty,
    columns: 100,
    cursorTo: (_x: number, y?: unknown, cb?: unknown) => done(cb ?? y),
    clearLine: (_dir: number, cb?: unknown) => done(cb),
    moveCursor: (_dx: number, _dy: number, cb?: unknown) => done(cb),
    clearScreenDown: (cb?: unknown) => done(cb),
  });
  return { out: out as unknown as NodeJS.WriteStream, text: () => text };
}

describe("progress", () => {
  it("prints plain lines at each quarter when stderr is not a terminal", () => {
    const { out, text } = stream(false);
    const tick = progress("embedding examples", { stream: out });
    for (let i = 1; i <= 8; i++) tick(i, 8);
    expect(text()).toBe(
      [
        "embedding examples 1/8 (12%)",
        "embedding examples 2/8 (25%)",
        "embedding examples 4/8 (50%)",
        "embedding examples 6/8 (75%)",
        "embedding examples 8/8 (100%)",
        "",
      ].join("\n"),
    );
  });

  it("draws a bar on a terminal and finishes the line at the end", () => {
    const { out, text } = stream(true);
    const tick = progress("merging modules", { stream: out });
    for (let i = 1; i <= 4; i++) tick(i, 4);
    expect(text()).toMatch(/merging modules \[[█░]+\] 4\/4 100%/);
    expect(text().endsWith("\n")).toBe(true);
  });

  it("leaves the terminal's cursor visible when the work stops before the end (an error, Ctrl+C)", () => {
    const { out, text } = stream(true);
    const tick = progress("embedding examples", { stream: out });
    tick(1, 4);
    tick(2, 4); // the embedder failed here: the bar is never finished
    expect(text()).toMatch(/embedding examples \[/);
    expect(text()).not.toContain("\x1b[?25l"); // DECTCEM: hide cursor
  });

  it("prints nothing when quiet (--json)", () => {
    const { out, text } = stream(false);
    const tick = progress("routing", { stream: out, quiet: true });
    tick(1, 2);
    tick(2, 2);
    expect(text()).toBe("");
  });
});
