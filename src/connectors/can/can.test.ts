// The CAN connector on an slcan line against python-can (Debian python3-can) as the device, over a
// socat pty pair: frames decoded into data, polling frames, attribute updates and RPC written as
// frames, the reserved set, short frames, a burst, and the adapter vanishing and coming back.

import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { addLogSink, setStderrLogging, type LogRecord } from "../../observe/logger.ts";
import { CanConnector } from "./connector.ts";
import { CanConfigSchema } from "./schema.ts";
import { startCanPeer, type CanPeer } from "./test/peer.ts";
import { waitUntil } from "../../../test/support/poll.ts";

setStderrLogging(false);

async function withConnector(devices: unknown[], body: (c: CanConnector, ctx: RecordingContext, peer: CanPeer) => Promise<void>, extra: Record<string, unknown> = {}): Promise<void> {
  const peer = await startCanPeer();
  const ctx = recordingContext({ type: "can" });
  const c = new CanConnector(CanConfigSchema.parse({ interface: "slcan", channel: peer.gatewayPath, reconnectPeriod: 0.2, devices, ...extra }), ctx);
  try {
    await c.start();
    await body(c, ctx, peer);
  } finally {
    await c.stop();
    await peer.stop();
  }
}

describe("CAN connector over slcan (python-can peer)", () => {
  test("frames are decoded by id and command, standard and extended ids", async () => {
    await withConnector(
      [
        {
          name: "Car",
          attributes: [{ key: "door", nodeId: 41, command: "2:2:big:8717", value: "4:1:int", expression: "bool(value & 0b00000100)" }],
          timeseries: [
            { key: "rpm", nodeId: 1918, isExtendedId: true, command: "2:2:big:48059", value: "4:2:big:int", expression: "value / 4" },
            { key: "temp", nodeId: 100, value: "0:2:little:int:signed" },
            { key: "name", nodeId: 101, value: "0:-1:string" },
          ],
        },
      ],
      async (_c, ctx, peer) => {
        await peer.send(41, false, "0000220d04");
        await peer.send(1918, true, "0000bbbb0fa00000");
        await peer.send(1918, true, "0000aaaa11110000"); // another command: nothing
        await peer.send(100, false, "9cff");
        await peer.send(101, false, "4142432d31");
        await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.name !== undefined), 10_000, "the text value");
        const values = Object.assign({}, ...ctx.sent.flatMap((d) => [d.attributes ?? {}, ...(d.telemetry ?? []).map((t) => t.values)]));
        expect(values).toEqual({ door: true, rpm: 1000, temp: -100, name: "ABC-1" });
        expect(ctx.sent.every((d) => d.deviceName === "Car" && d.deviceType === "can")).toBe(true);
        expect(ctx.added).toEqual([{ name: "Car", deviceType: "can" }]);
      },
    );
  }, 30_000);
});

const SAMPLE_DOWNLINK = {
  name: "Car",
  enableUnknownRpc: true,
  attributeUpdates: [{ attributeOnThingsBoard: "softwareVersion", nodeId: 64, isExtendedId: true, dataLength: 4, dataExpression: "value + 5", dataByteorder: "little" }],
  serverSideRpc: [
    { method: "setLightLevel", nodeId: 5, dataLength: 2, dataByteorder: "little", dataBefore: "00AA" },
    { method: "setSpeed", nodeId: 16, dataAfter: "0102", dataExpression: "userSpeed if maxAllowedSpeed > userSpeed else maxAllowedSpeed" },
  ],
};

describe("CAN connector downlink and polling (python-can peer)", () => {
  test("polling: once at start, always on its period; a device's answer to a poll becomes data", async () => {
    await withConnector(
      [
        {
          name: "Poller",
          attributes: [{ key: "once", nodeId: 41, value: "0:1:int", polling: { type: "once", dataInHex: "AB CD AB CD" } }],
          timeseries: [{ key: "speed", nodeId: 300, value: "0:2:big:int", polling: { period: 0.2, dataInHex: "aaaa bbbb" } }],
        },
      ],
      async (c, ctx, peer) => {
        await peer.answer(300, 300, false, "0102");
        const polls = await peer.until((f) => (f.filter((x) => x.id === 300).length >= 4 ? f.filter((x) => x.id === 300) : undefined), "four polls of id 300", 10_000);
        expect(polls[0]).toEqual({ id: 300, extended: false, data: "aaaabbbb" });
        expect(peer.received().filter((x) => x.id === 41)).toEqual([{ id: 41, extended: false, data: "abcdabcd" }]);
        // the answer frames (id 300, "0102") come back as telemetry
        await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.speed === 0x0102), 5_000, "speed from the answer to a poll");
        expect(c.counters.sent).toBeGreaterThanOrEqual(5);
      },
    );
  }, 30_000);

  test("attribute update and RPC of the upstream sample written as frames; reserved set; unknown RPC", async () => {
    await withConnector([SAMPLE_DOWNLINK, { name: "Bare", enableUnknownRpc: true }, { name: "Strict", serverSideRpc: [{ method: "big", nodeId: 7, dataLength: 1 }] }], async (c, ctx, peer) => {
      await c.onAttributeUpdate({ device: "Car", data: { softwareVersion: 10 } });
      await peer.until((f) => f.find((x) => x.id === 64), "the attribute update frame");
      expect(peer.received().at(-1)).toEqual({ id: 64, extended: true, data: "0f000000" });

      expect(await c.onRpc({ device: "Car", id: 1, method: "setLightLevel", params: { value: 300 } })).toEqual({ success: true });
      await peer.until((f) => f.find((x) => x.id === 5), "setLightLevel frame");
      expect(peer.received().at(-1)).toEqual({ id: 5, extended: false, data: "00aa2c01" });

      expect(await c.onRpc({ device: "Car", id: 2, method: "setSpeed", params: { userSpeed: 50, maxAllowedSpeed: 40 } })).toEqual({ success: true });
      await peer.until((f) => f.find((x) => x.id === 16), "setSpeed frame");
      expect(peer.received().at(-1)).toEqual({ id: 16, extended: false, data: "280102" });

      // enableUnknownRpc: the params are the frame; on a device without any rule as well
      expect(await c.onRpc({ device: "Bare", id: 3, method: "anything", params: { nodeId: 99, dataInHex: "ff 01" } })).toEqual({ success: true });
      await peer.until((f) => f.find((x) => x.id === 99), "unknown RPC frame");
      expect(peer.received().at(-1)).toEqual({ id: 99, extended: false, data: "ff01" });

      // reserved set: "key=value;" params are the frame definition
      expect(await c.onRpc({ device: "Car", id: 4, method: "set", params: "nodeId=1234;isExtendedId=true;dataInHex=0A0B;" })).toEqual({ result: { success: true } });
      await peer.until((f) => f.find((x) => x.id === 1234), "reserved set frame");
      expect(peer.received().at(-1)).toEqual({ id: 1234, extended: true, data: "0a0b" });

      // no rule and enableUnknownRpc off: not handled, nothing written; a value too big for dataLength fails
      const before = peer.received().length;
      expect(await c.onRpc({ device: "Strict", id: 5, method: "nope", params: { value: 1 } })).toBeUndefined();
      const big = (await c.onRpc({ device: "Strict", id: 6, method: "big", params: { value: 300 } })) as { success: boolean; error: string };
      expect(big).toEqual({ success: false, error: "int 300 does not fit in 1 byte(s)" });
      // a later frame arrives as the next one: nothing was written in between
      await c.onRpc({ device: "Car", id: 7, method: "setLightLevel", params: { value: 1 } });
      await peer.until((f) => (f.length > before ? true : undefined), "the next frame");
      expect(peer.received().slice(before)).toEqual([{ id: 5, extended: false, data: "00aa0100" }]);
      expect(ctx.sent).toEqual([]);
    });
  }, 30_000);
});

describe("CAN connector: bad frames, bursts, a vanishing adapter (python-can peer)", () => {
  test("a frame too short for a key is an error logged once and counted, never a 0", async () => {
    const logs: LogRecord[] = [];
    const off = addLogSink((r) => logs.push(r));
    try {
      await withConnector([{ name: "Meter", timeseries: [{ key: "kwh", nodeId: 200, value: "2:4:big:int" }, { key: "flag", nodeId: 200, value: "0:1:bool" }] }], async (c, ctx, peer) => {
        for (let i = 0; i < 3; i++) await peer.send(200, false, "010203");
        await peer.send(200, false, "00000000000a");
        await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.kwh === 10), 10_000, "kwh from a full frame");
        expect(ctx.sent.slice(0, 3).map((d) => d.telemetry![0]!.values)).toEqual([{ flag: true }, { flag: true }, { flag: true }]);
        const errors = logs.filter((l) => l.level === "ERROR" && l.message.includes("kwh"));
        expect(errors.map((l) => l.message)).toEqual(['Meter: "kwh" from frame 200: the frame has 3 byte(s); the value needs bytes 2..5 (data 010203)']);
        expect(c.counters).toMatchObject({ received: 4, converted: 4, dropped: 0 });
      });
    } finally {
      off();
    }
  }, 30_000);

  test("a burst of 5,000 frames: every one converted, in order, and counted", async () => {
    const n = 5000;
    await withConnector([{ name: "Fast", timeseries: [{ key: "seq", nodeId: 0x123, value: "4:4:big:int" }] }], async (c, ctx, peer) => {
      await peer.burst(n, 0x123, false, "deadbeef00000000", 30_000);
      await ctx.waitFor((s) => s.length >= n, 20_000, `${n} frames`);
      expect(ctx.sent.map((d) => d.telemetry![0]!.values.seq)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(c.counters).toMatchObject({ received: n, converted: n, dropped: 0, ignored: 0 });
    });
  }, 60_000);

  test("counters for statistics and status: a mixed burst counted as received, converted, dropped and ignored", async () => {
    const logs: LogRecord[] = [];
    const off = addLogSink((r) => logs.push(r));
    try {
      const devices = [
        { name: "Fast", timeseries: [{ key: "seq", nodeId: 0x123, value: "4:4:big:int" }] },
        // needs bytes 4..7: the 4-byte frames sent to 0x124 are too short, so no key can be read
        { name: "Short", timeseries: [{ key: "wide", nodeId: 0x124, value: "4:4:big:int" }] },
      ];
      await withConnector(devices, async (c, ctx, peer) => {
        // every key's frames, frames too short for their key, frames on an id nobody configured
        await peer.burst(2000, 0x123, false, "deadbeef00000000", 30_000);
        await peer.burst(500, 0x124, false, "00000000", 30_000);
        await peer.burst(300, 0x125, true, "0102030405060708", 30_000);
        await waitUntil(() => (c.ownCounters().framesReceived ?? 0) >= 2800, 20_000, "2,800 frames received");
        await ctx.waitFor((s) => s.length >= 2000, 20_000, "2,000 frames converted");
        expect(c.ownCounters()).toEqual({ framesReceived: 2800, framesConverted: 2000, framesDropped: 500, framesIgnored: 300, framesSent: 0 });
        // the short ones also reach the gateway's own `dropped` (statistics, status), logged once
        expect(ctx.dropped).toBe(500);
        expect(logs.filter((l) => l.level === "ERROR" && l.message.includes('"wide"'))).toHaveLength(1);
      });
    } finally {
      off();
    }
  }, 60_000);

  test("the adapter vanishes and comes back: logged once, data again after reconnect", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-can-gone-"));
    const logs: LogRecord[] = [];
    const off = addLogSink((r) => logs.push(r));
    let peer = await startCanPeer(dir);
    const ctx = recordingContext({ type: "can" });
    const c = new CanConnector(CanConfigSchema.parse({ interface: "slcan", channel: peer.gatewayPath, reconnectPeriod: 0.2, devices: [{ name: "D", timeseries: [{ key: "v", nodeId: 5, value: "0:1:int" }] }] }), ctx);
    try {
      await c.start();
      await peer.send(5, false, "01");
      await ctx.waitFor((s) => s.length === 1, 10_000, "first value");
      await peer.stop();
      await waitUntil(() => logs.some((l) => l.level === "ERROR" && l.message.includes("failed")), 10_000, "the bus failure log");
      peer = await startCanPeer(dir);
      await waitUntil(() => logs.filter((l) => l.message.includes("connected to the CAN bus")).length >= 2, 10_000, "reconnect");
      await peer.send(5, false, "02");
      await ctx.waitFor((s) => s.some((d) => d.telemetry![0]!.values.v === 2), 10_000, "value after the adapter came back");
      // the failing reopen attempts while the pty was gone logged one line, not one per attempt
      expect(logs.filter((l) => l.level === "ERROR").length).toBe(1);
    } finally {
      off();
      await c.stop();
      await peer.stop();
    }
  }, 30_000);
});

describe("CAN connector lifecycle", () => {
  test("stop is idempotent and nothing is sent after it", async () => {
    const peer = await startCanPeer();
    const ctx = recordingContext({ type: "can" });
    const c = new CanConnector(CanConfigSchema.parse({ interface: "slcan", channel: peer.gatewayPath, devices: [{ name: "D", timeseries: [{ key: "v", nodeId: 5, value: "0:1:int" }] }] }), ctx);
    try {
      await c.start();
      await peer.send(5, false, "01");
      await ctx.waitFor((s) => s.length === 1, 10_000, "first value");
      await c.stop();
      await c.stop();
      await peer.send(5, false, "02");
      await peer.send(0x7ff, false, "ff"); // a frame after ours: once python-can wrote it, ours was written too
      await new Promise((r) => setTimeout(r, 200));
      expect(ctx.sent.length).toBe(1);
      expect(c.counters.received).toBe(1);
    } finally {
      await c.stop();
      await peer.stop();
    }
  }, 30_000);
});
