// The OCPP connector in-process against two independent charge points over loopback: a Python one
// written against the OCPP-J frame format by hand (python3-websockets), and ocpp-rpc's RPCClient.
// The gateway side is the connector with a recording context standing in for the core.

import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { freePort } from "../../../test/support/ports.ts";
import { makeTestPki } from "../../../test/gateway/certs.ts";
import { NO_REPLY } from "../../core/model.ts";
import { OcppConnector } from "./connector.ts";
import { OcppConfigSchema, type OcppConfig } from "./schema.ts";
import { connectLibChargePoint, startPyChargePoint, type PyChargePoint } from "./test/peer.ts";

const TOKEN = "Bearer ACCESS_TOKEN";
const BASIC_ADMIN = `Basic ${Buffer.from("admin:admin").toString("base64")}`;
const BOOT = { chargePointVendor: "Acme", chargePointModel: "Wallbox 7", chargePointSerialNumber: "SN-17", firmwareVersion: "1.2.3" };
const DEVICE = "Acme Wallbox 7";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The upstream sample (port changed), optionally with the charge point entry extended. */
async function sampleConfig(extend: (cp: any) => void = () => {}): Promise<OcppConfig> {
  const raw = JSON.parse(readFileSync(join(SAMPLES, "ocpp.json"), "utf8"));
  raw.centralSystem.port = await freePort();
  extend(raw.chargePoints[0]);
  return OcppConfigSchema.parse(raw);
}

async function startConnector(cfg: OcppConfig): Promise<{ conn: OcppConnector; ctx: RecordingContext; url: string }> {
  const ctx = recordingContext({ name: "OCPP", type: "ocpp" });
  const conn = new OcppConnector(cfg, ctx);
  await conn.start();
  cleanups.push(() => conn.stop());
  return { conn, ctx, url: `ws://127.0.0.1:${cfg.centralSystem.port}` };
}

function py(url: string, opts: Parameters<typeof startPyChargePoint>[1] = {}): PyChargePoint {
  const cp = startPyChargePoint(url, opts);
  cleanups.push(() => cp.stop());
  return cp;
}

async function bootedPy(url: string): Promise<PyChargePoint> {
  const cp = py(`${url}/bidon/hello/CP_1`, { auth: TOKEN });
  await cp.line(/^OPEN ocpp1\.6$/, "the handshake");
  const boot = await cp.call("b1", "BootNotification", BOOT);
  expect(boot).toEqual([3, "b1", { currentTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), interval: 10, status: "Accepted" }]);
  return cp;
}

describe("OCPP connector with a hand-written Python charge point", () => {
  test("upstream sample: boot makes the device, each action answered, MeterValues and DataTransfer by their own keys, typed", async () => {
    const { ctx, url } = await startConnector(await sampleConfig());
    const cp = await bootedPy(url);
    expect(ctx.added).toEqual([{ name: DEVICE, deviceType: "default" }]);
    // upstream converts the boot with the MeterValues keys (unresolved ${...} text): nothing here
    expect(ctx.sent).toEqual([]);

    expect(await cp.call("s1", "StatusNotification", { connectorId: 1, errorCode: "NoError", status: "Available" })).toEqual([3, "s1", {}]);
    expect(await cp.call("h1", "Heartbeat", {})).toEqual([3, "h1", { currentTime: expect.any(String) }]);
    expect(await cp.call("a1", "Authorize", { idTag: "TAG1" })).toEqual([3, "a1", { idTagInfo: { status: "Accepted" } }]);
    const start = await cp.call("t1", "StartTransaction", { connectorId: 1, idTag: "TAG1", meterStart: 100, timestamp: "2026-12-07T02:00:00Z" });
    expect(start).toEqual([3, "t1", { transactionId: expect.any(Number), idTagInfo: { status: "Accepted" } }]);
    const txId = (start[2] as { transactionId: number }).transactionId;
    const mv = {
      connectorId: 1,
      transactionId: txId,
      meterValue: [{ timestamp: "2026-12-07T02:01:00Z", sampledValue: [{ value: "21.5", measurand: "Temperature", unit: "Celsius" }, { value: "7400" }] }],
    };
    expect(await cp.call("m1", "MeterValues", mv)).toEqual([3, "m1", {}]);
    expect(ctx.sent).toEqual([{ deviceName: DEVICE, deviceType: "default", attributes: { temp1: 21.5, vendorId: 1 } }]);

    expect(await cp.call("d1", "DataTransfer", { vendorId: "acme", data: JSON.stringify({ temp: 22.25 }) })).toEqual([3, "d1", { status: "Accepted" }]);
    expect(ctx.sent[1]).toEqual({ deviceName: DEVICE, deviceType: "default", telemetry: [{ ts: expect.any(Number), values: { temp: 22.25 } }] });
    expect(await cp.call("t2", "StopTransaction", { transactionId: txId, meterStop: 900, timestamp: "2026-12-07T02:30:00Z", idTag: "TAG1" })).toEqual([
      3,
      "t2",
      { idTagInfo: { status: "Accepted" } },
    ]);
    expect(ctx.sent.length).toBe(2);
  }, 30_000);

  test("malformed frames get a CALLERROR and the session continues", async () => {
    const { url } = await startConnector(await sampleConfig());
    const cp = await bootedPy(url);
    const sentAt = () => cp.lines().length;
    let from = sentAt();
    cp.send("this is not json");
    expect(JSON.parse((await cp.line(/^RECV (.*)$/, "answer to text", from))[1]!)).toEqual([4, "-1", "FormationViolation", expect.any(String), {}]);
    from = sentAt();
    cp.send('[2, "x1", "Heartbeat"]');
    expect(JSON.parse((await cp.line(/^RECV (.*)$/, "answer to a short CALL", from))[1]!)).toEqual([4, "x1", "FormationViolation", expect.any(String), {}]);
    from = sentAt();
    cp.send('{"not": "an array"}');
    expect(JSON.parse((await cp.line(/^RECV (.*)$/, "answer to an object", from))[1]!)[2]).toBe("FormationViolation");
    expect((await cp.call("x2", "FlyToTheMoon", {}))[2]).toBe("NotImplemented");
    expect((await cp.call("x3", "MeterValues", { meterValue: [] }))[2]).toBe("OccurenceConstraintViolation");
    expect((await cp.call("x4", "StatusNotification", { connectorId: "one", errorCode: "NoError", status: "Available" }))[2]).toBe("TypeConstraintViolation");
    // the same connection still works
    expect(await cp.call("h2", "Heartbeat", {})).toEqual([3, "h2", { currentTime: expect.any(String) }]);
    expect(cp.lines().some((l) => l.startsWith("CLOSED"))).toBe(false);
  }, 30_000);

  test("refused: unknown id, wrong credentials, no credentials; no ocpp1.6 offered: closed after the handshake", async () => {
    const { ctx, url } = await startConnector(await sampleConfig());
    const unknown = py(`${url}/somebody/else`, { auth: TOKEN });
    await unknown.line(/^REFUSED 404$/, "404 for an unknown id");
    const wrong = py(`${url}/bidon/hello/CP_1`, { auth: `Basic ${Buffer.from("admin:nope").toString("base64")}` });
    await wrong.line(/^REFUSED 401$/, "401 for a wrong password");
    const none = py(`${url}/bidon/hello/CP_1`);
    await none.line(/^REFUSED 401$/, "401 without credentials");
    const noProtocol = py(`${url}/bidon/hello/CP_1`, { auth: TOKEN, protocol: "none" });
    await noProtocol.line(/^CLOSED 1002$/, "close 1002 without a subprotocol");
    expect(ctx.added).toEqual([]);
  }, 30_000);

  test("downlink: attribute update and RPC rule as DataTransfer, reserved set, RPC as an OCPP action, CALLERROR as an error reply", async () => {
    const { conn, url } = await startConnector(
      await sampleConfig((cp) => cp.serverSideRpc.push({ methodRPC: "quiet", withResponse: false, valueExpression: "${params.level}" })),
    );
    const cp = py(`${url}/bidon/hello/CP_1`, { auth: TOKEN, reject: ["UnlockConnector"] });
    await cp.line(/^OPEN/, "the handshake");
    await cp.call("b1", "BootNotification", BOOT);

    /** The CALLs the charge point got, once there are `n`. */
    const calls = async (n: number) => {
      const callLines = () => cp.lines().filter((l) => l.startsWith("CALL "));
      await cp.line(/^CALL /, `CALL number ${n}`, cp.lines().indexOf(callLines()[n - 2] ?? "") + 1);
      return callLines().map((l) => JSON.parse(l.slice(5)) as unknown[]);
    };

    await conn.onAttributeUpdate({ device: DEVICE, data: { shared: 5, other: 1 } });
    expect((await calls(1))[0]).toEqual([2, expect.any(String), "DataTransfer", { vendorId: "1", data: '{"shared":"5"}' }]);

    const rpc = await conn.onRpc({ device: DEVICE, id: 1, method: "rpc1", params: { current: 16 } });
    expect((await calls(2))[1]![3]).toEqual({ vendorId: "1", data: '{"current":16}' });
    expect(rpc).toEqual({ result: { status: "Accepted", data: '{"current":16}' } });

    expect(await conn.onRpc({ device: DEVICE, id: 2, method: "set", params: "value=hello there" })).toEqual({ result: { status: "Accepted", data: "hello there" } });
    expect(await conn.onRpc({ device: DEVICE, id: 3, method: "quiet", params: { level: 3 } })).toBe(NO_REPLY);
    expect((await calls(4))[3]![3]).toEqual({ vendorId: "1", data: "3" });

    expect(await conn.onRpc({ device: DEVICE, id: 4, method: "Reset", params: { type: "Soft" } })).toEqual({ result: { status: "Accepted" } });
    expect((await calls(5))[4]!.slice(2)).toEqual(["Reset", { type: "Soft" }]);
    const failed = (await conn.onRpc({ device: DEVICE, id: 5, method: "UnlockConnector", params: '{"connectorId": 1}' })) as Record<string, unknown>;
    expect(failed).toMatchObject({ success: false, errorCode: "NotSupported" });
    expect(await conn.onRpc({ device: DEVICE, id: 6, method: "noSuchMethod", params: {} })).toBeUndefined();
    expect(await conn.onRpc({ device: "Someone Else", id: 7, method: "Reset", params: {} })).toMatchObject({ success: false });
  }, 30_000);
});

describe("OCPP connector with ocpp-rpc's RPCClient", () => {
  test("basic auth for a second charge point; every action mapped by its own keys; RPC as an OCPP action", async () => {
    const { conn, ctx, url } = await startConnector(
      await sampleConfig((cp) => {
        cp.attributes.push(
          { messageTypeFilter: "BootNotification", key: "firmware", value: "${firmware_version}" },
          { messageTypeFilter: "StatusNotification", key: "status_${connector_id}", value: "${status}" },
        );
        cp.timeseries.push(
          { messageTypeFilter: "StartTransaction,StopTransaction", key: "meter", value: "${meter_start}${meter_stop}" },
          { messageTypeFilter: "StopTransaction", key: "meterStop", value: "${meter_stop}" },
        );
      }),
    );
    const first = await bootedPy(url);
    const lib = await connectLibChargePoint(url, "bidon/hello/CP_10", { authorization: BASIC_ADMIN });
    cleanups.push(() => lib.client.close({ force: true }).then(() => {}));
    const boot = await lib.client.call("BootNotification", { chargePointVendor: "Volt", chargePointModel: "X2", firmwareVersion: "9.9" });
    expect(boot).toMatchObject({ status: "Accepted", interval: 10 });
    expect(ctx.added.map((a) => a.name)).toEqual([DEVICE, "Volt X2"]);
    expect(ctx.sent.find((d) => d.deviceName === "Volt X2")).toEqual({ deviceName: "Volt X2", deviceType: "default", attributes: { firmware: "9.9" } });

    expect(await lib.client.call("StatusNotification", { connectorId: 2, errorCode: "NoError", status: "Charging" })).toEqual({});
    expect(ctx.sent.at(-1)).toEqual({ deviceName: "Volt X2", deviceType: "default", attributes: { status_2: "Charging" } });
    const stop = await lib.client.call("StopTransaction", { transactionId: 5, meterStop: 1234, timestamp: "2026-12-07T02:30:00Z" });
    expect(stop).toEqual({});
    expect(ctx.sent.at(-1)).toEqual({ deviceName: "Volt X2", deviceType: "default", telemetry: [{ ts: Date.parse("2026-12-07T02:30:00Z"), values: { meterStop: 1234 } }] });

    const reply = await conn.onRpc({ device: "Volt X2", id: 9, method: "RemoteStartTransaction", params: { idTag: "TAG9", connectorId: 1 } });
    expect(reply).toEqual({ result: { status: "Accepted" } });
    expect(lib.received).toEqual([{ method: "RemoteStartTransaction", params: { idTag: "TAG9", connectorId: 1 } }]);
    // the first charge point got nothing
    expect(first.lines().filter((l) => l.startsWith("CALL "))).toEqual([]);
  }, 30_000);
});

describe("OCPP connector sessions", () => {
  test("a charge point that reconnects keeps its device; one never booted is asked to boot (TriggerMessage) and its data waits", async () => {
    const { ctx, url } = await startConnector(await sampleConfig());
    const first = await bootedPy(url);
    await first.stop();
    const again = py(`${url}/bidon/hello/CP_1`, { auth: TOKEN });
    await again.line(/^OPEN/, "the reconnect");
    const mv = { connectorId: 1, meterValue: [{ timestamp: "2026-12-07T02:01:00Z", sampledValue: [{ value: "3" }] }] };
    expect(await again.call("m1", "MeterValues", mv)).toEqual([3, "m1", {}]);
    expect(ctx.sent.at(-1)).toMatchObject({ deviceName: DEVICE, attributes: { temp1: 3 } });

    const fresh = py(`${url}/bidon/hello/CP_19`, { auth: TOKEN });
    await fresh.line(/^OPEN/, "a charge point that never booted");
    expect(await fresh.call("m2", "MeterValues", mv)).toEqual([3, "m2", {}]);
    const trigger = await fresh.line(/^CALL (.*)$/, "TriggerMessage");
    expect(JSON.parse(trigger[1]!).slice(2)).toEqual(["TriggerMessage", { requestedMessage: "BootNotification" }]);
    expect(ctx.sent.length).toBe(1);
    // the triggered boot: the held meter values go out as the new device
    await fresh.call("b2", "BootNotification", { chargePointVendor: "Late", chargePointModel: "Boot" });
    expect(ctx.sent.at(-1)).toEqual({ deviceName: "Late Boot", deviceType: "default", attributes: { temp1: 3, vendorId: 1 } });
  }, 30_000);

  test("wss:// with the configured certificate and key; stop twice, nothing sent after stop", async () => {
    const pki = makeTestPki();
    const cfg = await sampleConfig();
    cfg.centralSystem.connection = { type: "tls", cert: pki.serverCert, key: pki.serverKey };
    const { conn, ctx } = await startConnector(cfg);
    const cp = py(`wss://127.0.0.1:${cfg.centralSystem.port}/bidon/hello/CP_1`, { auth: TOKEN, cafile: pki.caCert });
    await cp.line(/^OPEN ocpp1\.6$/, "the TLS handshake");
    await cp.call("b1", "BootNotification", BOOT);
    expect(ctx.added).toEqual([{ name: DEVICE, deviceType: "default" }]);
    await conn.stop();
    await conn.stop();
    await cp.line(/^CLOSED 1001$/, "the close at stop");
    expect(ctx.sent).toEqual([]);

    // a key file that cannot be read: no plain ws:// instead, nothing listening
    const broken = await sampleConfig();
    broken.centralSystem.connection = { type: "tls", cert: pki.serverCert, key: join(pki.dir, "missing.key") };
    const { conn: none } = await startConnector(broken);
    expect(none.port).toBeUndefined();
  }, 30_000);
});
