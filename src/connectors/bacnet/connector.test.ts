// The connector against a real BACnet/IP device in another process (test-peer.ts on 127.0.0.2,
// free port): discovery, polling, writes with priority, RPC, COV.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import type { ConvertedData } from "../../core/model.ts";
import { addLogSink, setStderrLogging, type LogRecord } from "../../observe/logger.ts";
import { BacnetConnector } from "./connector.ts";
import { startPeer, waitOutput } from "./peer-process.ts";
import { BacnetConfigSchema } from "./schema.ts";

type Peer = Awaited<ReturnType<typeof startPeer>>;

async function config(peer: Peer, extra: Record<string, unknown> = {}) {
  return BacnetConfigSchema.parse({
    application: { objectName: "gw", host: "127.0.0.1", port: await freeUdpPort("127.0.0.1"), objectIdentifier: 599 },
    devices: [
      {
        deviceInfo: { deviceNameExpression: "BACnet Device ${objectName}", deviceProfileExpressionSource: "constant", deviceProfileExpression: "hvac" },
        host: "127.0.0.2",
        port: peer.port,
        pollPeriod: 300,
        attributes: [{ key: "temperature", objectType: "analogInput", objectId: 1, propertyId: "presentValue" }],
        timeseries: [
          { key: "state", objectType: "binaryValue", objectId: 1, propertyId: "presentValue" },
          { key: "brightness", objectType: "analogOutput", objectId: 1, propertyId: ["presentValue", "statusFlags"] },
          { key: "missing", objectType: "analogInput", objectId: 1, propertyId: "description" },
        ],
        attributeUpdates: [{ key: "brightness", objectType: "analogOutput", objectId: 1, propertyId: "presentValue", priority: 8 }],
        serverSideRpc: [
          { method: "set_state", requestType: "writeProperty", requestTimeout: 3000, objectType: "binaryOutput", objectId: 1, propertyId: "presentValue" },
          { method: "get_state", requestType: "readProperty", requestTimeout: 3000, objectType: "analogOutput", objectId: 2, propertyId: "presentValue" },
        ],
        ...extra,
      },
    ],
  });
}

const telemetry = (sent: ConvertedData[]) => sent.flatMap((d) => d.telemetry ?? []).map((t) => t.values);
const DEV = "BACnet Device TestDevice";

describe("bacnet connector against a peer process", () => {
  let peer: Peer;
  let ctx: RecordingContext;
  let conn: BacnetConnector;

  beforeAll(async () => {
    setStderrLogging(false);
    peer = await startPeer(1234, 1);
    ctx = recordingContext({ type: "bacnet" });
    conn = new BacnetConnector(await config(peer), ctx);
    await conn.start();
  }, 20000);

  afterAll(async () => {
    await conn?.stop();
    await peer?.stop();
    setStderrLogging(true);
  });

  test("discovers the device by I-Am, names it from objectName and polls present values", async () => {
    await ctx.waitFor((s) => s.some((d) => d.attributes?.temperature !== undefined), 10000, "first poll");
    expect(ctx.added).toContainEqual({ name: DEV, deviceType: "hvac" });
    const first = ctx.sent.find((d) => d.attributes?.temperature !== undefined)!;
    expect(first.deviceName).toBe(DEV);
    expect(first.attributes).toEqual({ temperature: 21.5 });
    expect(first.telemetry![0]!.values).toEqual({ state: "1", "brightness.presentValue": 0, "brightness.statusFlags": [0, 0, 0, 0] });
  }, 15000);

  test("attribute update writes with the configured priority; the next poll shows it", async () => {
    await conn.onAttributeUpdate({ device: DEV, data: { brightness: 73.25 } });
    await waitOutput(peer, /write 1:1 prop=85 priority=8 value=\[73\.25\]/);
    await ctx.waitFor((s) => telemetry(s).some((v) => v["brightness.presentValue"] === 73.25), 5000, "brightness 73.25");
  }, 10000);

  test("configured RPC: writeProperty and readProperty", async () => {
    expect(await conn.onRpc({ device: DEV, id: 1, method: "set_state", params: 1 })).toEqual({ result: "{'value': 1}" });
    await waitOutput(peer, /write 4:1 prop=85 priority=\d+ value=\[1\]/);
    expect(await conn.onRpc({ device: DEV, id: 2, method: "get_state", params: null })).toEqual({ result: "{'value': 18.25}" });
  });

  test("reserved get/set with priority and relinquish", async () => {
    const set = "objectType=analogOutput;objectId=2;propertyId=presentValue;priority=3;value=30.5;";
    expect(await conn.onRpc({ device: DEV, id: 3, method: "set", params: set })).toEqual({ result: "{'value': 30.5}" });
    const get = "objectType=analogOutput;objectId=2;propertyId=presentValue;";
    expect(await conn.onRpc({ device: DEV, id: 4, method: "get", params: get })).toEqual({ result: "{'value': 30.5}" });
    // Relinquish priority 3: back to the relinquish default.
    await conn.onRpc({ device: DEV, id: 5, method: "set", params: "objectType=analogOutput;objectId=2;propertyId=presentValue;priority=3;" });
    expect(await conn.onRpc({ device: DEV, id: 6, method: "get", params: get })).toEqual({ result: "{'value': 18.25}" });
  });

  test("RPC errors: device errors, unknown device, unknown method, bad params", async () => {
    const r = (await conn.onRpc({ device: DEV, id: 7, method: "set", params: "objectType=analogInput;objectId=1;propertyId=presentValue;value=5;" })) as { result: string };
    expect(r.result).toMatch(/^\{'error': 'BacnetError - Class:2 - Code:40'\}$/); // write-access-denied
    expect(await conn.onRpc({ device: "nope", id: 8, method: "get", params: "" })).toEqual({ result: { error: "Device not found" } });
    expect(await conn.onRpc({ device: DEV, id: 9, method: "frobnicate", params: {} })).toEqual({ result: { error: "Neither of configured device rpc methods match with frobnicate" } });
    expect(await conn.onRpc({ device: DEV, id: 10, method: "get", params: undefined })).toEqual({ result: { error: "No params section found in RPC request" } });
    expect(await conn.onRpc({ id: 11, method: "bacnet_frobnicate", params: "" })).toBeUndefined();
  });

  test("connector RPC bacnet_get / bacnet_set: by address (object or string params) and by device name", async () => {
    const at = peer.address;
    // Any object type, e.g. the device object itself (upstream's reserved get allows only six types).
    expect(await conn.onRpc({ id: 20, method: "bacnet_get", params: { address: at, objectType: "device", objectId: 1234, propertyId: "objectName" } })).toEqual({ result: { value: "TestDevice" }, address: at });
    expect(await conn.onRpc({ id: 21, method: "bacnet_set", params: `address=${at};objectType=analogValue;objectId=100;propertyId=presentValue;priority=5;value=12.5;` })).toEqual({
      result: { value: 12.5 },
      address: at,
    });
    await waitOutput(peer, /write 2:100 prop=85 priority=5 value=\[12\.5\]/);
    expect(await conn.onRpc({ id: 22, method: "bacnet_get", params: { device: DEV, objectType: "analogValue", objectId: 100, propertyId: "presentValue" } })).toEqual({ result: { value: 12.5 }, address: at });
    // Errors: no target, unknown device, bad address, device error, nobody listening (timeout).
    expect(await conn.onRpc({ id: 23, method: "bacnet_get", params: { objectType: "analogInput", objectId: 1, propertyId: "presentValue" } })).toEqual({
      error: 'bacnet_get: params need "address" (host[:port]) or "device" (a discovered device name)',
    });
    expect(((await conn.onRpc({ id: 24, method: "bacnet_get", params: { device: "nope", objectType: "analogInput", objectId: 1, propertyId: "presentValue" } })) as { error: string }).error).toMatch(/device "nope" is not discovered/);
    expect(await conn.onRpc({ id: 25, method: "bacnet_set", params: { address: "example.com", objectType: "analogInput", objectId: 1, propertyId: "presentValue", value: 1 } })).toEqual({
      error: 'bacnet_set: invalid address "example.com" (expected IPv4 host[:port])',
    });
    expect(await conn.onRpc({ id: 26, method: "bacnet_get", params: { address: at, objectType: "analogInput", objectId: 99, propertyId: "presentValue" } })).toEqual({
      error: "BacnetError - Class:1 - Code:31",
      address: at,
    }); // unknown-object
    const silent = `127.0.0.2:${await freeUdpPort("127.0.0.2")}`;
    expect(await conn.onRpc({ id: 27, method: "bacnet_get", params: { address: silent, objectType: "analogInput", objectId: 1, propertyId: "presentValue" }, timeoutSeconds: 1 })).toEqual({
      error: `Timeout rpc has been reached for ${silent}`,
      address: silent,
    });
  }, 10000);
});

describe("bacnet COV", () => {
  test("a subscribed object's change arrives by COV before the next poll", async () => {
    setStderrLogging(false);
    const peer = await startPeer(77);
    const ctx = recordingContext({ type: "bacnet" });
    // One poll an hour: any later value must have come by COV notification.
    const conn = new BacnetConnector(await config(peer, { pollPeriod: 3_600_000, subscribeCov: true }), ctx);
    try {
      await conn.start();
      await ctx.waitFor((s) => s.some((d) => d.attributes?.temperature !== undefined), 10000, "first poll");
      await waitOutput(peer, /subscribeCov 1:1 from 127\.0\.0\.1:\d+ cancel=false/);
      await conn.onAttributeUpdate({ device: DEV, data: { brightness: 55.5 } });
      await ctx.waitFor((s) => telemetry(s).some((v) => v["brightness.presentValue"] === 55.5), 5000, "COV value 55.5");
      const cov = ctx.sent.find((d) => d.telemetry?.[0]?.values["brightness.presentValue"] === 55.5)!;
      expect(cov.telemetry![0]!.values["brightness.statusFlags"]).toEqual([0, 0, 0, 0]);
      await conn.stop();
      await waitOutput(peer, /subscribeCov 1:1 from 127\.0\.0\.1:\d+ cancel=true/);
      const n = ctx.sent.length;
      await conn.stop(); // idempotent
      expect(ctx.sent.length).toBe(n);
    } finally {
      await conn.stop();
      await peer.stop();
      setStderrLogging(true);
    }
  }, 20000);
});

describe("bacnet object discovery", () => {
  test('"*" timeseries maps every object by name; objectId "*" maps every object of a type', async () => {
    setStderrLogging(false);
    const peer = await startPeer(88);
    const ctx = recordingContext({ type: "bacnet" });
    const cfg = await config(peer, {
      pollPeriod: 3_600_000,
      attributes: [{ key: "ao${objectName}", objectType: "analogOutput", objectId: "*", propertyId: "presentValue" }],
      timeseries: "*",
    });
    const conn = new BacnetConnector(cfg, ctx);
    try {
      await conn.start();
      await ctx.waitFor((s) => s.length > 0, 10000, "first poll");
      expect(ctx.sent[0]!.attributes).toEqual({ aoBrightness: 0, aoSetpoint: 18.25 });
      expect(ctx.sent[0]!.telemetry![0]!.values).toEqual({ Temperature: 21.5, Brightness: 0, Setpoint: 18.25, State: "1", Relay: "0", Mode: "2", Label: "hello" });
    } finally {
      await conn.stop();
      await peer.stop();
      setStderrLogging(true);
    }
  }, 20000);
});

describe("bacnet device that goes away", () => {
  test("stopping the device is logged once; when it comes back it is re-discovered and polled again", async () => {
    setStderrLogging(false);
    const logs: LogRecord[] = [];
    const waiters = new Set<() => void>();
    const off = addLogSink((r) => {
      if (!r.scope.startsWith("bacnet-lost")) return;
      logs.push(r);
      for (const w of [...waiters]) w();
    });
    let peer = await startPeer(91);
    const ctx = recordingContext({ type: "bacnet", name: "bacnet-lost" });
    const conn = new BacnetConnector(await config(peer, { pollPeriod: 200 }), ctx);
    const waitLog = (re: RegExp, what: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => logs.some((l) => re.test(l.message)) && (waiters.delete(check), clearTimeout(t), resolve());
        const t = setTimeout(() => (waiters.delete(check), reject(new Error(`no log line ${re} (${what}): ${logs.map((l) => l.message).join(" | ")}`))), 10000);
        waiters.add(check);
        check();
      });
    try {
      await conn.start();
      await ctx.waitFor((s) => s.length > 0, 10000, "first poll");
      await peer.stop();
      await waitLog(/is not answering/, "device lost");
      const before = ctx.sent.length;
      peer = await startPeer(91, 0, { port: peer.port });
      await waitLog(/device 91 is back at 127\.0\.0\.2:\d+; polling again/, "device back");
      await ctx.waitFor((s) => s.length > before, 5000, "polls after the device came back");
      const lost = logs.filter((l) => /is not answering|poll of .* failed/.test(l.message));
      expect(lost.map((l) => l.level)).toEqual(["WARNING"]);
      expect(ctx.added.filter((a) => a.name === DEV)).toHaveLength(1); // the same TB device, not a new one
    } finally {
      off();
      await conn.stop();
      await peer.stop();
      setStderrLogging(true);
    }
  }, 30000);
});
