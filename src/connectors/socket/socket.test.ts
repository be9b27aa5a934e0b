// The Socket connector against independent peers on loopback: Python's socket module (peer.py)
// and socat as devices, in TCP server mode, TCP client mode and UDP. The gateway side is the
// connector with a recording context (the whole gateway runs in gateway.test.ts).

import { describe, expect, test } from "bun:test";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { freePort, freeUdpPort } from "../../../test/support/ports.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import type { ConvertedData } from "../../core/model.ts";
import { SocketConnector } from "./connector.ts";
import { SocketConfigSchema } from "./schema.ts";
import { startPyPeer, startSocat, type PyPeer } from "./test/peer.ts";
import { waitUntil as poll } from "../../../test/support/poll.ts";

const hex = (s: string | Buffer) => (typeof s === "string" ? Buffer.from(s) : s).toString("hex");

/** A device sending "<temp> <hum>" lines: temp = bytes 0..4, hum = 5..end. */
function lineDevice(extra: Record<string, unknown> = {}) {
  return {
    address: "127.0.0.1:*",
    deviceName: "meter",
    deviceType: "meter",
    telemetry: [
      { key: "temp", byteFrom: 0, byteTo: 4 },
      { key: "hum", byteFrom: 5, byteTo: -1 },
    ],
    ...extra,
  };
}

async function withConnector(
  config: Record<string, unknown>,
  body: (c: SocketConnector, ctx: RecordingContext, logs: LogRecord[]) => Promise<void>,
  ctx: RecordingContext = recordingContext({ type: "socket" }),
): Promise<void> {
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => logs.push(r));
  const c = new SocketConnector(SocketConfigSchema.parse(config), ctx);
  try {
    await c.start();
    await waitLog(logs, /socket is up|connected/);
    await body(c, ctx, logs);
  } finally {
    await c.stop();
    off();
  }
}

function waitLog(logs: LogRecord[], re: RegExp, timeoutMs = 10_000): Promise<LogRecord> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      const hit = logs.find((l) => re.test(l.message));
      if (hit) return resolve(hit);
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for a log line ${re}; logs: ${logs.map((l) => l.message).join(" | ")}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

const temps = (sent: ConvertedData[], device = "meter") => sent.filter((d) => d.deviceName === device).map((d) => d.telemetry![0]!.values.temp);

describe("TCP server mode", () => {
  test("delimiter framing: messages split and merged by the stream arrive whole, from many connections", async () => {
    const port = await freePort();
    const cfg = { socket: { port, framing: { type: "delimiter", delimiter: "\r\n" } }, devices: [lineDevice()] };
    await withConnector(cfg, async (_c, ctx) => {
      const { peer } = await startPyPeer(["tcp-client", "127.0.0.1", String(port), "3"]);
      try {
        // one message cut in three writes, two messages in one write, on three connections at once
        await peer.cmd(`send ${hex("21.5 4")} 0`);
        await peer.cmd(`send ${hex("0\r")} 0`);
        await peer.cmd(`send ${hex("\n")} 0`);
        await peer.cmd(`send ${hex("22.0 41\r\n22.5 42\r\n")} 1`);
        await peer.cmd(`send ${hex("23.0 43\r\n")} 2`);
        await ctx.waitFor((s) => s.length === 4, 10_000, "four messages");
        expect(temps(ctx.sent).sort()).toEqual(["21.5", "22.0", "22.5", "23.0"]);
        expect(ctx.sent.find((d) => d.telemetry![0]!.values.temp === "21.5")!.telemetry![0]!.values.hum).toBe("40");
        expect(ctx.sent.map((d) => d.deviceType)).toEqual(["meter", "meter", "meter", "meter"]);
      } finally {
        await peer.stop();
      }
    });
  }, 30_000);

  test("a device that disconnects (FIN or RST) mid-message leaves no half message behind", async () => {
    const port = await freePort();
    const cfg = { socket: { port, framing: { type: "delimiter", delimiter: "\n" } }, devices: [lineDevice()] };
    await withConnector(cfg, async (_c, ctx, logs) => {
      // each device connection: a whole message, then the start of one, then the connection ends
      const steps: Array<[string, string, number]> = [
        ["21.5 40\n22", "close 0", 2],
        ["23.5 41\n7", "reset 0", 1],
      ];
      for (const [bytes, end, left] of steps) {
        const { peer } = await startPyPeer(["tcp-client", "127.0.0.1", String(port)]);
        try {
          const before = logs.length;
          await peer.cmd(`send ${hex(bytes)}`);
          await peer.cmd(end);
          await waitLog(logs.slice(before), new RegExp(`closed in the middle of a message; its ${left} bytes are dropped`));
        } finally {
          await peer.stop();
        }
      }
      const { peer } = await startPyPeer(["tcp-client", "127.0.0.1", String(port)]);
      try {
        await peer.cmd(`send ${hex("24.5 42\n")}`);
        await ctx.waitFor((s) => s.length === 3, 10_000, "message after the reconnect");
      } finally {
        await peer.stop();
      }
      expect(temps(ctx.sent)).toEqual(["21.5", "23.5", "24.5"]);
      expect(ctx.sent.map((d) => d.telemetry![0]!.values.hum)).toEqual(["40", "41", "42"]);
    });
  }, 30_000);

  test("attribute update, RPC and reserved set are written on the device's open connection; attribute requests answered", async () => {
    const port = await freePort();
    const device = lineDevice({
      encoding: "utf-8",
      attributeRequests: [{ type: "shared", requestExpression: "${[0:3]==atr}", attributeNameExpression: "[3:]" }],
      attributeUpdates: [{ attributeOnThingsBoard: "setpoint" }, { attributeOnThingsBoard: "label", encoding: "utf-16" }],
      serverSideRpc: [
        { methodRPC: "restart", withResponse: true, methodProcessing: "write" },
        { methodRPC: "blink", withResponse: false },
      ],
    });
    const cfg = { socket: { port, framing: { type: "delimiter", delimiter: "\n" } }, devices: [device] };
    const ctx = recordingContext({ type: "socket" });
    ctx.attributes.meter = { setpoint: 18.5, mode: "éco" };
    await withConnector(
      cfg,
      async (c) => {
        const { peer, first } = await startPyPeer(["tcp-client", "127.0.0.1", String(port)]);
        const localPort = Number(first.split(" ")[1]);
        try {
          await peer.cmd(`send ${hex("21.5 40\n")}`);
          await ctx.waitFor((s) => s.length === 1, 10_000, "first message");

          await c.onAttributeUpdate({ device: "meter", data: { setpoint: 19.5, ignored: 1, label: "Hi" } });
          await peer.receivedUntil(0, (b) => b.length >= 4 + 6, "attribute writes");
          expect(peer.received(0)).toEqual(Buffer.concat([Buffer.from("19.5"), Buffer.from([0xff, 0xfe, 0x48, 0, 0x69, 0])]));

          expect(await c.onRpc({ device: "meter", id: 1, method: "restart", params: "now" })).toBe("ok");
          expect(await c.onRpc({ device: "meter", id: 2, method: "blink", params: { times: 3 } })).toEqual({ success: true });
          await peer.receivedUntil(0, (b) => b.toString("latin1").endsWith('now{"times":3}'), "RPC writes");

          const set = await c.onRpc({ device: "meter", id: 3, method: "set", params: `address=127.0.0.1;port=${localPort};value=SET1` });
          expect(set).toBe("ok");
          expect(await c.onRpc({ id: 4, method: "socket_set", params: `address=127.0.0.1;port=${localPort};value=SET2` })).toBe("ok");
          await peer.receivedUntil(0, (b) => b.toString("latin1").endsWith("SET1SET2"), "reserved set writes");
          expect(await c.onRpc({ device: "meter", id: 5, method: "set", params: "value=x" })).toEqual({ error: "Not enough params", success: false });
          expect(await c.onRpc({ device: "meter", id: 6, method: "nope", params: "" })).toBeUndefined();

          // "atr" + name: answered with the value as JSON, and not taken as data
          const before = peer.received(0).length;
          await peer.cmd(`send ${hex("atrmode\n")}`);
          await peer.receivedUntil(0, (b) => b.length > before, "attribute request reply");
          expect(peer.received(0).subarray(before).toString()).toBe('"\\u00e9co"');
          expect(ctx.attributeRequests).toEqual([{ device: "meter", keys: ["mode"], scope: "shared" }]);
          expect(ctx.sent.length).toBe(1);
        } finally {
          await peer.stop();
        }
      },
      ctx,
    );
  }, 30_000);

  test("writes to a device not connected: a one-off connection to its last address (upstream), errors as RPC errors", async () => {
    const port = await freePort();
    const cfg = { socket: { port }, devices: [lineDevice({ serverSideRpc: [{ methodRPC: "poke" }] }), { ...lineDevice(), deviceName: "silent", address: "*:*", serverSideRpc: [{ methodRPC: "poke" }] }] };
    await withConnector(cfg, async (c) => {
      // the device listens on the address it sent from (a peer in server mode connecting out once)
      const { peer, first } = await startPyPeer(["tcp-server"]);
      try {
        const listenPort = Number(first.split(" ")[1]);
        expect(await c.onRpc({ id: 1, method: "socket_set", params: `address=127.0.0.1;port=${listenPort};value=hello` })).toBe("ok");
        await peer.receivedUntil(0, (b) => b.toString() === "hello", "one-off write");
        const refused = (await c.onRpc({ id: 2, method: "socket_set", params: `address=127.0.0.1;port=${await freePort()};value=x` })) as { error: string };
        expect(refused.error).toMatch(/^cannot connect to 127\.0\.0\.1:\d+: .+/);
        const silent = (await c.onRpc({ device: "silent", id: 3, method: "poke", params: "x" })) as { error: string };
        expect(silent.error).toBe('no address to write to yet: nothing received from it, and its address "*:*" has wildcards');
      } finally {
        await peer.stop();
      }
    });
  }, 30_000);

  test("storage behind: the connection stops reading, then every message arrives, in order", async () => {
    const port = await freePort();
    const base = recordingContext({ type: "socket" });
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => (open = r));
    let inFlight = 0;
    let maxInFlight = 0;
    const ctx: RecordingContext = {
      ...base,
      async sendData(data) {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await gate;
        inFlight--;
        return base.sendData(data);
      },
    };
    const writes = 40;
    const perWrite = 500;
    const cfg = { socket: { port, framing: { type: "delimiter", delimiter: "\n" } }, devices: [lineDevice()] };
    await withConnector(
      cfg,
      async () => {
        const { peer } = await startPyPeer(["tcp-client", "127.0.0.1", String(port)]);
        try {
          for (let w = 0; w < writes; w++) {
            const lines = Array.from({ length: perWrite }, (_, i) => `x.xx ${w * perWrite + i}\n`).join("");
            await peer.cmd(`send ${hex(lines)}`);
          }
          // every write was taken by the kernel, while the batches waiting for storage stayed few
          expect(maxInFlight).toBeGreaterThanOrEqual(4);
          expect(maxInFlight).toBeLessThanOrEqual(5);
          expect(base.sent.length).toBe(0);
          open();
          const n = writes * perWrite;
          await base.waitFor((s) => s.length === n, 20_000, `${n} messages`);
          expect(base.sent.map((d) => Number(d.telemetry![0]!.values.hum))).toEqual(Array.from({ length: n }, (_, i) => i));
          expect(maxInFlight).toBeLessThanOrEqual(5);
        } finally {
          await peer.stop();
        }
      },
      ctx,
    );
  }, 60_000);

  test("thousands of idle connections are held, and each still delivers", async () => {
    const port = await freePort();
    const n = 2000;
    const cfg = { socket: { port, framing: { type: "delimiter", delimiter: "\n" } }, devices: [lineDevice()] };
    await withConnector(cfg, async (c, ctx) => {
      const { peer } = await startPyPeer(["tcp-client", "127.0.0.1", String(port), String(n)]);
      try {
        await waitUntil(() => (c.transport as unknown as { connectionCount: number }).connectionCount === n, `${n} connections`);
        await peer.cmd(`sendall ${hex("20.0 50\n")}`);
        await ctx.waitFor((s) => s.length === n, 20_000, `${n} messages`);
      } finally {
        await peer.stop();
      }
    });
  }, 60_000);
});

describe("TCP client mode", () => {
  test("connects to each device, reconnects after the device drops the connection, writes on it", async () => {
    const { peer, first } = await startPyPeer(["tcp-server"]);
    const devicePort = Number(first.split(" ")[1]);
    try {
      const cfg = {
        socket: { mode: "client", framing: { type: "fixed", length: 7 } },
        devices: [lineDevice({ address: `127.0.0.1:${devicePort}`, attributeUpdates: [{ attributeOnThingsBoard: "setpoint" }] })],
      };
      await withConnector(cfg, async (c, ctx, logs) => {
        await peer.line(/^ACCEPT 0 /, "first connection");
        await peer.cmd(`send ${hex("21.5 40")} 0`);
        await ctx.waitFor((s) => s.length === 1, 10_000, "first message");
        // an attribute update before any frame would also go here: the address is known from the config
        await c.onAttributeUpdate({ device: "meter", data: { setpoint: "ON" } });
        await peer.receivedUntil(0, (b) => b.toString() === "ON", "attribute write");
        await peer.cmd(`send ${hex("22.5 4")} 0`);
        await peer.cmd("close 0");
        await waitLog(logs, /127\.0\.0\.1:\d+: closed by the device; reconnecting/);
        await peer.line(/^ACCEPT 1 /, "reconnection");
        await peer.cmd(`send ${hex("23.5 42")} 1`);
        await ctx.waitFor((s) => s.length === 2, 10_000, "message after the reconnection");
        expect(temps(ctx.sent)).toEqual(["21.5", "23.5"]);
        await waitLog(logs, /connected again/);
      });
    } finally {
      await peer.stop();
    }
  }, 30_000);
});

describe("UDP", () => {
  test("devices matched by exact ip:port; unknown senders and undecodable bytes never stop later datagrams; replies from the bound port", async () => {
    const port = await freeUdpPort();
    const known = await startPyPeer(["udp", "127.0.0.1", String(port)]);
    const stranger = await startPyPeer(["udp", "127.0.0.1", String(port)]);
    try {
      const knownPort = Number(known.first.split(" ")[1]);
      const cfg = {
        socket: { type: "UDP", port, bufferSize: 16 },
        devices: [
          lineDevice({ address: `127.0.0.1:${knownPort}`, serverSideRpc: [{ methodRPC: "ping" }] }),
          { ...lineDevice(), deviceName: "other", address: "127.0.0.1:1" },
        ],
      };
      await withConnector(cfg, async (c, ctx, logs) => {
        await stranger.peer.cmd(`send ${hex("99.9 99")}`);
        await stranger.peer.cmd(`send ${hex("99.8 98")}`);
        await known.peer.cmd(`send ${hex(Buffer.from([0xff, 0xfe, 0x41, 0x42, 0x20, 0x31]))}`);
        await known.peer.cmd(`send ${hex("21.5 40")}`);
        await known.peer.cmd(`send ${hex("22.5 41 and more than sixteen bytes")}`);
        await ctx.waitFor((s) => s.length === 3, 10_000, "three datagrams of the known device");
        expect(temps(ctx.sent)).toEqual(["b'\\xff\\xfeAB'", "21.5", "22.5"]);
        expect(ctx.sent[2]!.telemetry![0]!.values.hum).toBe("41 and more"); // cut to bufferSize 16
        expect(ctx.sent.every((d) => d.deviceName === "meter")).toBe(true);
        const unknown = logs.filter((l) => l.message.includes("matches no device address"));
        expect(unknown.map((l) => l.level)).toEqual(["WARNING"]);
        expect(unknown[0]!.message).toBe(`data from 127.0.0.1:${stranger.first.split(" ")[1]} matches no device address; dropped (logged once per sender)`);

        expect(await c.onRpc({ device: "meter", id: 1, method: "ping", params: "pong" })).toBe("ok");
        await known.peer.receivedUntil(port, (b) => b.toString() === "pong", "RPC datagram from the gateway's port");
      });
    } finally {
      await known.peer.stop();
      await stranger.peer.stop();
    }
  }, 30_000);

  test("socat as the device: a datagram in, the reserved set answer out", async () => {
    const port = await freeUdpPort();
    const cfg = { socket: { type: "UDP", port }, devices: [lineDevice({ address: "*:*" })] };
    await withConnector(cfg, async (c, ctx) => {
      const socat = startSocat(`UDP:127.0.0.1:${port}`);
      try {
        socat.write("21.5 40");
        await ctx.waitFor((s) => s.length === 1, 10_000, "socat datagram");
        expect(ctx.sent[0]!.telemetry![0]!.values).toEqual({ temp: "21.5", hum: "40" });
        // the device's address is what it sent from; `set` to it reaches socat
        expect(await c.onRpc({ device: "meter", id: 1, method: "rpc", params: "" })).toBeUndefined();
        const peerAddress = (c as unknown as { states: Array<{ address?: string }> }).states[0]!.address!;
        const [host, p] = peerAddress.split(":");
        expect(await c.onRpc({ device: "meter", id: 2, method: "set", params: `address=${host};port=${p};value=OK` })).toBe("ok");
        await socat.outputUntil((b) => b.toString() === "OK", "set datagram at socat");
      } finally {
        await socat.stop();
      }
    });
  }, 30_000);
});

describe("lifecycle", () => {
  test("a taken port is retried until free; nothing is sent after stop, and stop is idempotent", async () => {
    const port = await freePort();
    const squatter = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    const ctx = recordingContext({ type: "socket" });
    const logs: LogRecord[] = [];
    const off = addLogSink((r) => logs.push(r));
    const c = new SocketConnector(SocketConfigSchema.parse({ socket: { port }, devices: [lineDevice()] }), ctx);
    try {
      await c.start();
      await waitLog(logs, /cannot listen on TCP 127\.0\.0\.1:\d+: .+; retrying every 3 s/);
      squatter.stop(true);
      await waitLog(logs, /TCP socket is up/, 10_000);
      const socat = startSocat(`TCP:127.0.0.1:${port}`);
      try {
        socat.write("21.5 40");
        await ctx.waitFor((s) => s.length === 1, 10_000, "data");
        await c.stop();
        socat.write("22.5 41");
        await socat.exited; // the connector closed the connection
        await c.stop();
        expect(ctx.sent.length).toBe(1);
      } finally {
        await socat.stop();
      }
    } finally {
      squatter.stop(true);
      await c.stop();
      off();
    }
  }, 30_000);
});

export type { PyPeer };

const waitUntil = (pred: () => boolean, what: string, timeoutMs = 20_000) => poll(pred, timeoutMs, what, 10);
