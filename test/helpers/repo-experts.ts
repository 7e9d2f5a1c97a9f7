import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's experts folder (experts.json and example prompts). Tests must not write into it. */
export const REPO_EXPERTS = fileURLToPath(new URL("../../experts", import.meta.url));

/** A private copy of the repository's experts folder, and how to remove it. */
export interface ExpertsCopy {
  /** The copy's folder: experts.json and examples/, no centroids/ and no merged adapters. */
  dir: string;
  remove(): Promise<void>;
}

/**
 * Copies the repository's experts folder to a temporary one. Routing writes what it learns (the
 * centroids and the linear router, `centroids/<embedder>*`) next to experts.json: a test that routes
 * over the copy leaves the working tree's experts/ untouched, and never reads what another test
 * trained there. What the working tree has already built is left out, so each copy starts clean.
 *
 * @example
 * let experts: ExpertsCopy;
 * beforeAll(async () => { experts = await copyRepoExperts(); });
 * afterAll(() => experts.remove());
 */
export async function copyRepoExperts(): Promise<ExpertsCopy> {
  const dir = join(await mkdtemp(join(tmpdir(), "herd-experts-copy-")), "experts");
  await cp(REPO_EXPERTS, dir, {
    recursive: true,
    filter: (source) => {
      const inside = relative(REPO_EXPERTS, source).split(sep);
      return inside[0] !== "centroids" && !(inside[0] === "adapters" && inside[1] === "merged");
    },
  });
  return { dir, remove: () => rm(join(dir, ".."), { recursive: true, force: true }) };
}
