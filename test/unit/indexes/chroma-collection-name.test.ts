import { describe, expect, it } from "vitest";
import {
  chromaCollectionName,
  isValidChromaCollectionName,
} from "../../../src/providers/indexes/chroma-collection-name.js";

describe("chromaCollectionName", () => {
  it("keeps a name Chroma accepts, behind the prefix", () => {
    expect(chromaCollectionName("centroids-ollama-nomic-embed-text")).toBe(
      "herd-centroids-ollama-nomic-embed-text",
    );
    expect(chromaCollectionName("centroids_v2.1", "team.")).toBe("team.centroids_v2.1");
  });

  it("turns embedder ids with ':' and '/' into valid, readable names", () => {
    const name = chromaCollectionName("centroids-ollama:qwen3/embed:latest");
    expect(name).toMatch(/^herd-centroids-ollama-qwen3-embed-latest-[0-9a-f]{8}$/);
    expect(isValidChromaCollectionName(name)).toBe(true);
  });

  it("is deterministic and never maps two names to one collection", () => {
    const names = ["a:b", "a/b", "a b", "a-b", "a--b", "a::b"].map((n) => chromaCollectionName(n));
    expect(new Set(names).size).toBe(names.length);
    expect(chromaCollectionName("a:b")).toBe(names[0]);
  });

  it("fixes short names, bad ends, '..' and IPv4-looking names when there is no prefix", () => {
    for (const raw of ["ab", "-code-", "x..y", "10.0.0.1", "::", "é", "", "name."]) {
      const name = chromaCollectionName(raw, "");
      expect(isValidChromaCollectionName(name), `${raw} -> ${name}`).toBe(true);
    }
    expect(chromaCollectionName("::", "")).toMatch(/^[0-9a-f]{8}$/);
  });

  it("trims names longer than Chroma's 512 characters", () => {
    const name = chromaCollectionName(`${"x".repeat(600)}:y`);
    expect(name.length).toBeLessThanOrEqual(512);
    expect(isValidChromaCollectionName(name)).toBe(true);
    expect(name).not.toBe(chromaCollectionName(`${"x".repeat(600)}:z`));
  });

  it("gives a valid name for any input", () => {
    const alphabet = "aZ09._-:/ @é\u0000";
    let seed = 1;
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    for (let i = 0; i < 500; i++) {
      const length = Math.floor(random() * 20);
      const raw = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
      expect(isValidChromaCollectionName(chromaCollectionName(raw, "")), JSON.stringify(raw)).toBe(true);
    }
  });
});

describe("isValidChromaCollectionName", () => {
  it("follows Chroma's rules", () => {
    expect(isValidChromaCollectionName("abc")).toBe(true);
    expect(isValidChromaCollectionName("ab")).toBe(false);
    expect(isValidChromaCollectionName("a:b")).toBe(false);
    expect(isValidChromaCollectionName("-abc")).toBe(false);
    expect(isValidChromaCollectionName("abc_")).toBe(false);
    expect(isValidChromaCollectionName("a..b")).toBe(false);
    expect(isValidChromaCollectionName("192.168.1.1")).toBe(false);
    expect(isValidChromaCollectionName("x".repeat(512))).toBe(true);
    expect(isValidChromaCollectionName("x".repeat(513))).toBe(false);
  });
});
