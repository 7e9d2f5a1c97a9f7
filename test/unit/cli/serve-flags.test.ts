import { describe, expect, it } from "vitest";
import { runHerd } from "../../helpers/run-cli.js";

describe("herd serve --timeout", () => {
  it("is documented in --help", async () => {
    const run = await runHerd("serve", "--help");
    expect(run.stdout).toMatch(/--timeout <seconds>\s+give up on a backend that sends nothing/);
  });

  it("refuses a value that is not a number of seconds with one readable line", async () => {
    for (const value of ["abc", "0", "-5", "1e12"]) {
      const run = await runHerd("serve", "--timeout", value);
      expect(run.code).not.toBe(0);
      expect(run.stderr.trim().split("\n")).toHaveLength(1);
      expect(run.stderr).toMatch(/--timeout.*the timeout must be a number of seconds, e\.g\. 60 or 2\.5/);
    }
  });
});
