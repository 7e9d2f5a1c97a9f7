import http from "node:http";
import type { AddressInfo } from "node:net";

/** How the stalling backend answers a path. */
export type StallMode =
  /** accepts the request and never answers */
  | "no-headers"
  /** sends 200 and NDJSON headers, then nothing */
  | "no-body"
  /** sends one NDJSON line of an Ollama chat stream, then nothing */
  | "mid-stream"
  /** answers a normal, complete Ollama chat stream at once */
  | "ok";

/** A real loopback HTTP server that misbehaves on demand, for timeout tests. */
export interface StallingBackend {
  url: string;
  /** How POST /api/chat answers from now on (`?mode=<mode>` on a request's URL overrides it). */
  mode: StallMode;
  /** Requests received so far. */
  readonly received: number;
  /** When true, GET requests (Ollama's health check) get no answer. */
  stallHealth: boolean;
  /** GET requests received so far. */
  readonly healthRequests: number;
  /** Connections currently open (stalled requests keep theirs). */
  openConnections(): number;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

const line = (content: string, done: boolean) =>
  `${JSON.stringify(
    done
      ? {
          model: "herd-code",
          created_at: "2025-07-07T20:22:19.184789Z",
          message: { role: "assistant", content: "" },
          done: true,
          done_reason: "stop",
          prompt_eval_count: 3,
          eval_count: 2,
        }
      : {
          model: "herd-code",
          created_at: "2025-07-07T20:22:19.184789Z",
          message: { role: "assistant", content },
          done: false,
        },
  )}\n`;

/** Starts a backend on 127.0.0.1 and a random port that speaks enough of Ollama's API to stall. */
export async function startStallingBackend(mode: StallMode = "ok"): Promise<StallingBackend> {
  let received = 0;
  let healthRequests = 0;
  const state = { mode, stallHealth: false };
  const server = http.createServer((req, res) => {
    received++;
    req.resume();
    req.on("end", () => {
      if (req.method === "GET") {
        healthRequests++;
        if (!state.stallHealth) res.end("Ollama is running");
        return;
      }
      // `?mode=...` on the URL overrides the current mode for that request
      const forced = new URL(req.url ?? "/", "http://x").searchParams.get("mode") as StallMode | null;
      switch (forced ?? state.mode) {
        case "no-headers":
          return;
        case "no-body":
          res.writeHead(200, { "content-type": "application/x-ndjson" });
          res.flushHeaders();
          return;
        case "mid-stream":
          res.writeHead(200, { "content-type": "application/x-ndjson" });
          res.write(line("Hello", false));
          return;
        default:
          res.writeHead(200, { "content-type": "application/x-ndjson" });
          res.end(line("Hello", false) + line(" world", false) + line("", true));
      }
    });
  });
  let connections = 0;
  let accepted = 0;
  server.on("connection", (socket) => {
    accepted++;
    connections++;
    socket.on("close", () => connections--);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    get mode() {
      return state.mode;
    },
    set mode(value: StallMode) {
      state.mode = value;
    },
    get received() {
      return received;
    },
    get stallHealth() {
      return state.stallHealth;
    },
    set stallHealth(value: boolean) {
      state.stallHealth = value;
    },
    get healthRequests() {
      return healthRequests;
    },
    openConnections: () => connections,
    get accepted() {
      return accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
