// The optional loopback HTTP listeners of the status endpoint: /status and /events (NDJSON), and
// Prometheus /metrics. Loaded by server.ts only when one is enabled, so a default gateway does not
// keep node:http's code resident. node:http rather than Bun.serve: /events must send its headers
// at once (a client filtering for rare kinds would otherwise wait on the first event), and
// Bun.serve completes a streamed response's headers only with the first body chunk.

import { createServer, type Server, type ServerResponse } from "node:http";
import { errorText, type Logger } from "../logger.ts";
import { renderMetrics } from "./metrics.ts";
import type { StatusSnapshot, SubscribeKind } from "./protocol.ts";

/** What the listeners need from the status server. */
export interface HttpSide {
  snapshot(): StatusSnapshot;
  /** Starts an event stream; the returned function ends it. */
  subscribe(write: (line: string) => void, backlog: () => number, kinds: SubscribeKind[] | undefined): () => void;
}

export interface HttpListener {
  port: number;
  close(): Promise<void>;
}

export function listenHttp(side: HttpSide, host: string, port: number, metrics: boolean, log: Logger): Promise<HttpListener> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (metrics && url.pathname === "/metrics") return reply(res, 200, "text/plain; version=0.0.4; charset=utf-8", renderMetrics(side.snapshot()));
    if (!metrics && url.pathname === "/status") return reply(res, 200, "application/json", JSON.stringify(side.snapshot()));
    if (!metrics && url.pathname === "/events") {
      res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
      // headers now, not with the first event: a client filtering for rare kinds would wait on them
      res.flushHeaders();
      const kinds = url.searchParams.get("kinds")?.split(",").filter(Boolean) as SubscribeKind[] | undefined;
      const end = side.subscribe((l) => res.write(l), () => res.writableLength, kinds);
      res.on("close", end);
      return;
    }
    reply(res, 404, "text/plain", metrics ? "try /metrics\n" : "try /status or /events?kinds=uplink,downlink\n");
  });
  return new Promise((resolve, reject) => {
    server.once("error", (e) => {
      log.error(`status HTTP on ${host}:${port} cannot listen: ${errorText(e)}`);
      reject(e);
    });
    server.listen(port, host, () => {
      const a = server.address();
      const p = typeof a === "object" && a ? a.port : port;
      log.info(`${metrics ? "Prometheus metrics" : "status HTTP"} on http://${host}:${p}${metrics ? "/metrics" : "/status"}`);
      resolve({
        port: p,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

function reply(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { "content-type": type });
  res.end(body);
}
