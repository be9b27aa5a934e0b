// A TCP proxy for MQTT between a client and a real broker that, while `stalling`, swallows the
// PUBACK packets (fixed header type 4) going to the client and passes everything else: a stuck
// broker or load balancer that keeps the connection and answers pings but stops acknowledging.
// A real broker cannot be told to withhold PUBACK selectively. dropAll() cuts the connections, as a
// broker or load balancer that keeps dropping its clients does.

import { createConnection, createServer, type Socket } from "node:net";

export interface StallProxy {
  /** Loopback port the client connects to (picked by the OS). */
  port: number;
  /** While true, PUBACKs to the client are dropped. */
  stalling: boolean;
  /** PUBACKs dropped so far. */
  swallowed: number;
  /** Client connections accepted so far. */
  connections: number;
  /** Cut every open connection (a broker or load balancer that drops its clients). */
  dropAll(): void;
  close(): Promise<void>;
}

const PUBACK = 4;

export async function startStallProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<StallProxy> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    proxy.connections++;
    const broker = createConnection({ host: targetHost, port: targetPort });
    open.add(client);
    open.add(broker);
    const end = () => {
      client.destroy();
      broker.destroy();
      open.delete(client);
      open.delete(broker);
    };
    client.on("error", end).on("close", end);
    broker.on("error", end).on("close", end);
    client.pipe(broker);
    let pending: Buffer = Buffer.alloc(0);
    broker.on("data", (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const pass: Buffer[] = [];
      let at = 0;
      for (;;) {
        const len = packetLength(pending, at);
        if (len === undefined) break;
        const type = pending[at]! >> 4;
        if (proxy.stalling && type === PUBACK) proxy.swallowed++;
        else pass.push(pending.subarray(at, at + len));
        at += len;
      }
      pending = pending.subarray(at);
      if (pass.length) client.write(pass.length === 1 ? pass[0]! : Buffer.concat(pass));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  const proxy: StallProxy = {
    port: typeof addr === "object" && addr ? addr.port : 0,
    stalling: false,
    swallowed: 0,
    connections: 0,
    dropAll: () => {
      for (const s of open) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
  return proxy;
}

/** Bytes of the whole packet starting at `at` (fixed header + remaining length), or undefined if incomplete. */
function packetLength(b: Buffer, at: number): number | undefined {
  let remaining = 0;
  let mult = 1;
  for (let i = at + 1; i < at + 5; i++) {
    if (i >= b.length) return undefined;
    const byte = b[i]!;
    remaining += (byte & 0x7f) * mult;
    mult *= 128;
    if ((byte & 0x80) === 0) {
      const total = i + 1 - at + remaining;
      return at + total <= b.length ? total : undefined;
    }
  }
  throw new Error("malformed MQTT remaining length from the broker");
}
