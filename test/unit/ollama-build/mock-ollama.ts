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
 * (200/404, 201 created, 200 existed, 400 digest mismatch), NDJSON /api/create status lines
 * ending in {"status":"success"}, and GET /api/tags.
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
