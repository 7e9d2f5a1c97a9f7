import { readFileSync } from "node:fs";
import { HttpResponse, http } from "msw";

/** Where the mocked Chroma answers (Chroma's default address). */
export const CHROMA_MOCK_URL = "http://127.0.0.1:8000";

const API = `${CHROMA_MOCK_URL}/api/v2`;
const COLLECTIONS = `${API}/tenants/default_tenant/databases/default_database/collections`;

/**
 * A response body recorded from a real Chroma 1.x server (the chromadb 3.5 CLI), byte for byte:
 * test/fixtures/chroma/<name>.body.
 */
export function chromaFixture(name: string): string {
  return readFileSync(new URL(`../fixtures/chroma/${name}.body`, import.meta.url), "utf8");
}

/** A JSON reply carrying a recorded body. */
export function chromaReply(name: string, status = 200): HttpResponse<string> {
  return new HttpResponse(chromaFixture(name), { status, headers: { "content-type": "application/json" } });
}

/** The id of the collection in the `collection` fixture. */
export const FIXTURE_COLLECTION_ID = (JSON.parse(chromaFixture("collection")) as { id: string }).id;

/** Handlers for the calls every client session makes: heartbeat and pre-flight checks. */
export const chromaBaseHandlers = [
  http.get(`${API}/heartbeat`, () => chromaReply("heartbeat")),
  http.get(`${API}/pre-flight-checks`, () => chromaReply("pre-flight-checks")),
];

/** Chroma's collection routes, for tests to answer with `http.get(collectionRoute(...), ...)`. */
export const chromaRoutes = {
  collections: COLLECTIONS,
  collection: (nameOrId: string) => `${COLLECTIONS}/${nameOrId}`,
  records: (id: string, action: "query" | "get" | "upsert" | "delete") => `${COLLECTIONS}/${id}/${action}`,
  heartbeat: `${API}/heartbeat`,
};
