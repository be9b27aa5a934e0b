// Starts device.py (Python's http.server) as the device side of HTTP connector tests and collects
// the requests it records, one JSON line each.

import { join } from "node:path";
import { startProcess, type Started } from "../../../../test/support/process.ts";

export interface DeviceRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string;
}

export interface HttpDevice {
  port: number;
  url: string;
  requests(): DeviceRequest[];
  /** Resolves with the first request `pick` accepts (checked as lines arrive). */
  waitFor(pick: (r: DeviceRequest[]) => boolean, timeoutMs?: number, what?: string): Promise<DeviceRequest[]>;
  stop(): Promise<void>;
}

export type DeviceRoutes = Record<string, { status?: number; body?: unknown; contentType?: string; delay?: number; headers?: Record<string, string>; auth?: string; bodies?: unknown[] }>;

/** `tls`: serve HTTPS with this certificate and key (PEM files). */
export async function startHttpDevice(routes: DeviceRoutes = {}, tls?: { cert: string; key: string }): Promise<HttpDevice> {
  const args = ["-u", join(import.meta.dir, "device.py"), JSON.stringify(routes), ...(tls ? [tls.cert, tls.key] : [])];
  const p: Started = await startProcess("python3", args, { ready: /READY \d+/, timeoutMs: 15000 });
  const port = Number(/READY (\d+)/.exec(p.output())![1]);
  const requests = () =>
    p
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{") && l.endsWith("}"))
      .map((l) => JSON.parse(l) as DeviceRequest);
  return {
    port,
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    waitFor(pick, timeoutMs = 10000, what = "device requests") {
      return new Promise((resolve, reject) => {
        const check = () => {
          const r = requests();
          if (pick(r)) {
            p.proc.stdout?.off("data", check);
            clearTimeout(timer);
            resolve(r);
          }
        };
        const timer = setTimeout(() => {
          p.proc.stdout?.off("data", check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; device saw ${JSON.stringify(requests()).slice(0, 1500)}`));
        }, timeoutMs);
        p.proc.stdout?.on("data", check);
        check();
      });
    },
    stop: () => p.stop(),
  };
}
