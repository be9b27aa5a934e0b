// Foreign-device registration: the connector (127.0.0.1) registers with a BBMD (bbmd-peer.ts on
// 127.0.0.3, which checks every frame byte by byte), re-registers before the TTL runs out, and sends
// Who-Is as Distribute-Broadcast-To-Network; the BBMD forwards it to the real device process
// (test-peer.ts on 127.0.0.2) and the device's I-Am back as Forwarded-NPDU.
import { describe, expect, test } from "bun:test";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { recordingContext } from "../../../test/support/context.ts";
import { addLogSink, setStderrLogging, type LogRecord } from "../../observe/logger.ts";
import { BbmdPeer, BVLC, hex } from "./bbmd-peer.ts";
import { BacnetConnector } from "./connector.ts";
import { startPeer } from "./peer-process.ts";
import { BacnetConfigSchema } from "./schema.ts";

async function config(bbmd: string, deviceId: number, ttl: number) {
  return BacnetConfigSchema.parse({
    application: { host: "127.0.0.1", port: await freeUdpPort("127.0.0.1"), objectIdentifier: 599, devicesDiscoverPeriodSeconds: 3600 },
    foreignDevice: { address: bbmd, ttl },
    devices: [
      {
        deviceInfo: { deviceNameExpression: "Remote ${objectId}" },
        deviceId,
        pollPeriod: 3_600_000,
        timeseries: [{ key: "temperature", objectType: "analogInput", objectId: 1, propertyId: "presentValue" }],
      },
    ],
  });
}

const whoIsThroughBbmd = (f: { func: number; apdu?: string }) => f.func === BVLC.DISTRIBUTE_BROADCAST_TO_NETWORK && f.apdu === "unconfirmed:8";

describe("bacnet foreign device", () => {
  test("registers with the BBMD, re-registers before the TTL ends, discovers through it", async () => {
    setStderrLogging(false);
    const peer = await startPeer(4321);
    const bbmd = new BbmdPeer({ host: "127.0.0.3", localDevices: [peer.address] });
    await bbmd.start();
    const ctx = recordingContext({ type: "bacnet", name: "fd-ok" });
    const conn = new BacnetConnector(await config(bbmd.address, 4321, 2), ctx);
    try {
      await conn.start();
      // The device is reachable only through the BBMD: its I-Am came forwarded, and polling then goes direct.
      await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.temperature === 21.5), 10000, "telemetry of the remote device");
      expect(ctx.sent[0]!.deviceName).toBe("Remote 4321");
      const gw = bbmd.frames.find((f) => f.func === BVLC.REGISTER_FOREIGN_DEVICE)!.from;
      expect(gw).toMatch(/^127\.0\.0\.1:\d+$/);
      // TTL 2 s: the second registration must come before the first expires.
      await bbmd.waitFor((fs) => fs.filter((f) => f.func === BVLC.REGISTER_FOREIGN_DEVICE).length >= 2, 4000, "re-registration");
      const regs = bbmd.frames.filter((f) => f.func === BVLC.REGISTER_FOREIGN_DEVICE);
      for (const r of regs) expect(hex(r.bytes)).toBe("81 05 00 06 00 02");
      const whoIs = bbmd.frames.filter((f) => f.from === gw && whoIsThroughBbmd(f));
      expect(whoIs.length).toBeGreaterThanOrEqual(1);
      // The Who-Is went out only after the BBMD had acknowledged the registration.
      expect(bbmd.frames.indexOf(whoIs[0]!)).toBeGreaterThan(bbmd.frames.indexOf(regs[0]!));
      // The device answered the forwarded Who-Is; the BBMD forwarded that I-Am.
      expect(bbmd.frames.some((f) => f.from === peer.address && f.apdu === "unconfirmed:0")).toBe(true);
      expect(bbmd.errors).toEqual([]);
      expect(bbmd.fdt.has(gw)).toBe(true);
    } finally {
      await conn.stop();
      await bbmd.stop();
      await peer.stop();
      setStderrLogging(true);
    }
  }, 20000);

  test("a refused registration is logged once, retried, and Who-Is stays local", async () => {
    setStderrLogging(false);
    const bbmd = new BbmdPeer({ host: "127.0.0.3", localDevices: [], refuse: true });
    await bbmd.start();
    const logs: LogRecord[] = [];
    const off = addLogSink((r) => {
      if (r.scope.startsWith("fd-nak")) logs.push(r);
    });
    const ctx = recordingContext({ type: "bacnet", name: "fd-nak" });
    const conn = new BacnetConnector(await config(bbmd.address, 1, 1), ctx);
    try {
      await conn.start();
      await bbmd.waitFor((fs) => fs.filter((f) => f.func === BVLC.REGISTER_FOREIGN_DEVICE).length >= 3, 8000, "three registration attempts");
      const errors = logs.filter((r) => r.level === "ERROR" && /registration with BBMD/.test(r.message));
      expect(errors.map((r) => r.message)).toEqual([expect.stringContaining("refused")]);
      expect(errors[0]!.message).toContain("refused the registration (NAK)");
      expect(bbmd.frames.some(whoIsThroughBbmd)).toBe(false);
      expect(bbmd.errors).toEqual([]);
    } finally {
      off();
      await conn.stop();
      await bbmd.stop();
      setStderrLogging(true);
    }
  }, 15000);
});
