// The demo's local platform endpoint: an embedded MQTT broker (aedes) that speaks the platform
// side of the gateway API well enough to try tb-gw without ThingsBoard — it answers the session
// limits request and keeps the latest values per device. For trying tb-gw, not a test double.

import { createServer, type Server } from "node:net";
import { Aedes } from "aedes";

export interface DemoPlatform {
  port: number;
  /** device → key → latest value */
  latest: Map<string, Map<string, unknown>>;
  datapoints: number;
  close(): Promise<void>;
}

export async function startDemoPlatform(port: number, host = "127.0.0.1"): Promise<DemoPlatform> {
  const broker: any = await (Aedes as any).createBroker();
  const server: Server = createServer(broker.handle);
  const state: DemoPlatform = {
    port,
    latest: new Map(),
    datapoints: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => broker.close(() => resolve()));
      }),
  };
  broker.on("publish", (packet: { topic: string; payload: Buffer }, client: unknown) => {
    if (!client) return;
    const { topic } = packet;
    if (topic.startsWith("v1/devices/me/rpc/request/")) {
      let body: any;
      try {
        body = JSON.parse(packet.payload.toString());
      } catch {
        return;
      }
      if (body?.method === "getSessionLimits") {
        const id = topic.slice("v1/devices/me/rpc/request/".length);
        broker.publish({ topic: `v1/devices/me/rpc/response/${id}`, payload: Buffer.from(JSON.stringify({ maxPayloadSize: 65536, maxInflightMessages: 100 })), qos: 1, retain: false, cmd: "publish", dup: false }, () => {});
      }
      return;
    }
    if (topic !== "v1/gateway/telemetry") return;
    try {
      const body = JSON.parse(packet.payload.toString()) as Record<string, Array<{ values: Record<string, unknown> }>>;
      for (const [device, entries] of Object.entries(body)) {
        let m = state.latest.get(device);
        if (!m) state.latest.set(device, (m = new Map()));
        for (const e of entries) {
          for (const [k, v] of Object.entries(e.values ?? {})) {
            m.set(k, v);
            state.datapoints++;
          }
        }
      }
    } catch {
      // the demo platform only summarises; malformed input is the gateway's bug and shows in its logs
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  state.port = typeof addr === "object" && addr ? addr.port : port;
  return state;
}
