import { HttpResponse, http } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProviderResponseError, ProviderUnavailableError } from "../../../src/core/errors.js";
import { norm } from "../../../src/core/vector-math.js";
import { OllamaEmbedder } from "../../../src/providers/embedders/ollama.js";
import { ollamaBaseUrl } from "../../../src/providers/http/ollama-base-url.js";

const BASE = "http://127.0.0.1:11434";
const requests: unknown[] = [];

/** /api/embed as documented: one vector per input, never streamed, metrics alongside. */
const server = setupServer(
  http.post(`${BASE}/api/embed`, async ({ request }) => {
    const body = (await request.json()) as { model: string; input: string | string[] };
    requests.push(body);
    if (body.model === "missing")
      return HttpResponse.json({ error: "model 'missing' not found" }, { status: 404 });
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    return HttpResponse.json({
      model: body.model,
      embeddings: inputs.map((t) => [t.length, 3, 4]),
      total_duration: 14143917,
      load_duration: 1019500,
      prompt_eval_count: 8,
    });
  }),
);

beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => {
  requests.length = 0;
});
afterAll(() => server.close());

describe("OllamaEmbedder", () => {
  it("embeds in batches through /api/embed and L2-normalizes", async () => {
    const embedder = new OllamaEmbedder({ model: "nomic-embed-text", baseUrl: BASE, batchSize: 2 });
    const vectors = await embedder.embed(["a", "bb", "ccc"]);
    expect(vectors).toHaveLength(3);
    expect(requests).toEqual([
      { model: "nomic-embed-text", input: ["a", "bb"], truncate: true },
      { model: "nomic-embed-text", input: ["ccc"], truncate: true },
    ]);
    for (const v of vectors) expect(norm(v)).toBeCloseTo(1, 6);
    expect(vectors[2]![0]).toBeCloseTo(3 / Math.sqrt(34), 6);
    expect(await embedder.dimension()).toBe(3);
    expect(embedder.id).toBe("ollama-nomic-embed-text");
  });

  it("names the model and the fix when the model is missing", async () => {
    const embedder = new OllamaEmbedder({ model: "missing", baseUrl: BASE });
    await expect(embedder.embed(["x"])).rejects.toThrow(ProviderResponseError);
    await expect(embedder.embed(["x"])).rejects.toThrow(/ollama pull missing/);
  });

  it("names the URL and the fix when Ollama is not running", async () => {
    const embedder = new OllamaEmbedder({ baseUrl: "http://127.0.0.1:9" });
    server.use(http.post("http://127.0.0.1:9/api/embed", () => HttpResponse.error()));
    const error = await embedder.embed(["x"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toMatch(/Cannot reach Ollama at http:\/\/127\.0\.0\.1:9 .*ollama serve/);
  });

  it("accepts OLLAMA_HOST-style addresses", () => {
    expect(ollamaBaseUrl("0.0.0.0:11434")).toBe("http://127.0.0.1:11434");
    expect(ollamaBaseUrl("example.internal")).toBe("http://example.internal:11434");
    expect(ollamaBaseUrl("https://ollama.example.com")).toBe("https://ollama.example.com");
    expect(ollamaBaseUrl("[::1]")).toBe("http://[::1]:11434");
    expect(ollamaBaseUrl("http://gpu-box:8080/ollama")).toBe("http://gpu-box:8080/ollama");
  });
});
