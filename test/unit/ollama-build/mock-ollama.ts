import { createHash } from "node:crypto";
import { HttpResponse, http } from "msw";
import { tagEntry } from "../../fixtures/ollama/ollama-mock.js";

/** A request the mock received, for assertions. */
export interface SeenRequest {
  method: string;
  path: string;
  body?: unknown;
}

/**
 * An Ollama server mock for msw, answering as ollama-api.md documents: HEAD/POST /api/blobs
 * (200/404, 201 created, 200 existed, 400 digest mismatch), NDJSON /api/create and /api/pull status
 * lines ending in {"status":"success"}, POST /api/show (404 for a missing model) and GET /api/tags.
 */
export class MockOllama {
  readonly blobs = new Map<string, number>();
  readonly models = new Map<string, unknown>();
  readonly seen: SeenRequest[] = [];
  /** Replace to inject a failure into /api/create: return a Response to send instead. */
  createOverride: ((body: { model: string }) => Response | undefined) | undefined;

  constructor(readonly baseUrl: string) {}

  handlers() {
    return [
      http.head(`${this.baseUrl}/api/blobs/:digest`, ({ params }) => {
        this.seen.push({ method: "HEAD", path: `/api/blobs/${params.digest}` });
        return new HttpResponse(null, { status: this.blobs.has(String(params.digest)) ? 200 : 404 });
      }),
      http.post(`${this.baseUrl}/api/blobs/:digest`, async ({ params, request }) => {
        const digest = String(params.digest);
        const bytes = Buffer.from(await request.arrayBuffer());
        this.seen.push({ method: "POST", path: `/api/blobs/${digest}`, body: bytes.length });
        const actual = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
        if (actual !== digest) {
          return HttpResponse.json(
            { error: `digest mismatch, expected "${digest}", got "${actual}"` },
            { status: 400 },
          );
        }
        const existed = this.blobs.has(digest);
        this.blobs.set(digest, bytes.length);
        return new HttpResponse(null, { status: existed ? 200 : 201 });
      }),
      http.post(`${this.baseUrl}/api/create`, async ({ request }) => {
        const body = (await request.json()) as { model: string; adapters?: Record<string, string> };
        this.seen.push({ method: "POST", path: "/api/create", body });
        const override = this.createOverride?.(body);
        if (override) return override;
        for (const digest of Object.values(body.adapters ?? {})) {
          if (!this.blobs.has(digest))
            return HttpResponse.json({ error: `blob ${digest} not found` }, { status: 400 });
        }
        this.models.set(`${body.model}:latest`, body);
        const lines = [
          {
            status:
              "using existing layer sha256:432f310a77f4650a88d0fd59ecdd7cebed8d684bafea53cbff0473542964f0c3",
          },
          ...Object.values(body.adapters ?? {}).map((d) => ({ status: `creating new layer ${d}` })),
          { status: "writing manifest" },
          { status: "success" },
        ];
        return new HttpResponse(lines.map((l) => `${JSON.stringify(l)}\n`).join(""), {
          headers: { "Content-Type": "application/x-ndjson" },
        });
      }),
      http.post(`${this.baseUrl}/api/pull`, async ({ request }) => {
        // The official client sends the model as `name` (the older spelling the server still reads).
        const body = (await request.json()) as { model?: string; name?: string };
        const model = body.model ?? body.name ?? "";
        this.seen.push({ method: "POST", path: "/api/pull", body });
        this.models.set(model.includes(":") ? model : `${model}:latest`, { pulled: true });
        const layer = "dde5aa3fc5ffc17176b5e8bdc82f587b24b2678c6c66101bf7da77af9f7ccdff";
        const lines = [
          { status: "pulling manifest" },
          { status: `pulling ${layer.slice(0, 12)}`, digest: `sha256:${layer}`, total: 2019377376 },
          {
            status: `pulling ${layer.slice(0, 12)}`,
            digest: `sha256:${layer}`,
            total: 2019377376,
            completed: 2019377376,
          },
          { status: "verifying sha256 digest" },
          { status: "writing manifest" },
          { status: "success" },
        ];
        return new HttpResponse(lines.map((l) => `${JSON.stringify(l)}\n`).join(""), {
          headers: { "Content-Type": "application/x-ndjson" },
        });
      }),
      http.post(`${this.baseUrl}/api/show`, async ({ request }) => {
        const body = (await request.json()) as { model: string };
        this.seen.push({ method: "POST", path: "/api/show", body });
        const name = body.model.includes(":") ? body.model : `${body.model}:latest`;
        if (!this.models.has(name))
          return HttpResponse.json({ error: `model '${body.model}' not found` }, { status: 404 });
        return HttpResponse.json({
          modelfile: `FROM ${name}\n`,
          parameters: "",
          template: "{{ .Prompt }}",
          details: {
            parent_model: "",
            format: "gguf",
            family: "llama",
            families: ["llama"],
            parameter_size: "3.2B",
            quantization_level: "Q4_K_M",
          },
          model_info: {},
          capabilities: ["completion"],
          modified_at: "2025-05-04T17:37:44.706015396-07:00",
        });
      }),
      http.get(`${this.baseUrl}/api/tags`, () => {
        this.seen.push({ method: "GET", path: "/api/tags" });
        return HttpResponse.json({
          models: [...this.models.keys()].map(tagEntry),
        });
      }),
    ];
  }

  /** The requests of one kind, e.g. `calls("POST", "/api/create")`. */
  calls(method: string, prefix: string): SeenRequest[] {
    return this.seen.filter((r) => r.method === method && r.path.startsWith(prefix));
  }
}
