// The OCPP connector through the whole gateway: `tb-gw run` as its own process (from source and as
// the compiled binary), Mosquitto with the harness playing the platform, and two independent charge
// points: the hand-written Python one (token auth) and ocpp-rpc's RPCClient (basic auth). The
// upstream sample ocpp.json, changed only in its port, gives the devices and values, and the
// platform's attribute update and RPCs reach the charge points as CALLs.

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FROM_BOTH, gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { deviceRpcReply, platformForFile } from "../../../test/support/platform.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { makeTestPki } from "../../../test/gateway/certs.ts";
import { freePort } from "../../../test/support/ports.ts";
import type { Started } from "../../../test/support/process.ts";
import { connectLibChargePoint, startPyChargePoint, type LibChargePoint, type PyChargePoint } from "./test/peer.ts";

const DEVICE = "Acme Wallbox 7";
const SECOND = "Volt X2";

const platform = platformForFile();
beforeAll(() => {
  gatewayBinary(); // built once here, so no test's own timeout pays for it
}, 240_000);

const rpcReply = (id: number) => platform.harness.waitFor((h) => deviceRpcReply(h, id), 20_000, `RPC reply ${id}`);

describe("OCPP connector in the gateway", () => {
  for (const from of FROM_BOTH) {
    test(`upstream ocpp.json (port changed) from ${from}: boot, status, meter values and data transfer on the platform; downlink as CALLs; refused and malformed`, async () => {
      const port = await freePort();
      const cfg = JSON.parse(readFileSync(join(SAMPLES, "ocpp.json"), "utf8"));
      cfg.centralSystem.port = port;
      const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "ocpp", name: "OCPP sample", configuration: "ocpp.json" }]), { "ocpp.json": cfg });
      const received = platform.harness.received.length;
      const since = () => platform.harness.received.slice(received);
      const rpcBase = from === "binary" ? 200 : 100;
      let gw: Started | undefined;
      let cp: PyChargePoint | undefined;
      let lib: LibChargePoint | undefined;
      let stranger: PyChargePoint | undefined;
      try {
        gw = await startGatewayFrom(from, files.configPath, { timeoutMs: 30_000 });
        const url = `ws://127.0.0.1:${port}`;
        cp = startPyChargePoint(`${url}/bidon/hello/CP_1`, { auth: "Bearer ACCESS_TOKEN" });
        await cp.line(/^OPEN ocpp1\.6$/, "the handshake");
        expect((await cp.call("b1", "BootNotification", { chargePointVendor: "Acme", chargePointModel: "Wallbox 7" }))[2]).toMatchObject({ status: "Accepted", interval: 10 });
        const connect = await platform.harness.waitFor((h) => h.received.slice(received).find((r) => r.topic === "v1/gateway/connect" && r.body.device === DEVICE), 15_000, "device connect");
        expect(connect.body).toEqual({ device: DEVICE, type: "default" });
        expect(await cp.call("s1", "StatusNotification", { connectorId: 1, errorCode: "NoError", status: "Available" })).toEqual([3, "s1", {}]);

        const mv = { connectorId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: "21.5", measurand: "Temperature" }] }] };
        expect(await cp.call("m1", "MeterValues", mv)).toEqual([3, "m1", {}]);
        const attrs = await platform.harness.waitFor((h) => h.received.slice(received).find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.temp1 !== undefined), 15_000, "meter value attributes");
        expect(attrs.body[DEVICE]).toEqual({ temp1: 21.5, vendorId: 1 });
        await cp.call("d1", "DataTransfer", { vendorId: "acme", data: '{"temp": 22.5}' });
        await platform.harness.waitFor((h) => h.telemetry().some((t) => t.device === DEVICE && t.key === "temp" && t.value === 22.5), 15_000, "DataTransfer telemetry");
        // no unresolved ${...} text anywhere (upstream publishes the boot through the MeterValues keys)
        expect(since().filter((r) => r.raw.includes("${"))).toEqual([]);

        // a malformed frame: CALLERROR FormationViolation, and the session goes on
        const at = cp.lines().length;
        cp.send("[2, 42");
        expect(JSON.parse((await cp.line(/^RECV (\[4.*)$/, "the CALLERROR", at))[1]!)).toEqual([4, "-1", "FormationViolation", expect.any(String), {}]);
        expect((await cp.call("h1", "Heartbeat", {}))[0]).toBe(3);

        // a second charge point with basic auth, a refused one
        lib = await connectLibChargePoint(url, "bidon/hello/CP_17", { authorization: `Basic ${Buffer.from("admin:admin").toString("base64")}` });
        await lib.client.call("BootNotification", { chargePointVendor: "Volt", chargePointModel: "X2" });
        await platform.harness.waitFor((h) => h.received.slice(received).find((r) => r.topic === "v1/gateway/connect" && r.body.device === SECOND), 15_000, "second device connect");
        stranger = startPyChargePoint(`${url}/not/configured`, { auth: "Bearer ACCESS_TOKEN" });
        await stranger.line(/^REFUSED 404$/, "refusal of an unknown id");

        // downlink: attribute update → DataTransfer; rpc1 rule → DataTransfer with ${params}; OCPP action; set
        const calls = () => cp!.lines().filter((l) => l.startsWith("CALL ")).map((l) => JSON.parse(l.slice(5)));
        await platform.harness.sendAttributeUpdate(DEVICE, { shared: "on" });
        await cp.line(/^CALL .*"DataTransfer"/, "the attribute update as DataTransfer");
        expect(calls()[0]!.slice(2)).toEqual(["DataTransfer", { vendorId: "1", data: '{"shared":"on"}' }]);

        await platform.harness.sendDeviceRpc(DEVICE, rpcBase + 1, "rpc1", { maxCurrent: 16 });
        expect((await rpcReply(rpcBase + 1)).body.data).toEqual({ status: "Accepted", data: '{"maxCurrent":16}' });
        // the charge point prints a CALL before answering it, but its output may reach us after the reply reached the platform
        await cp.line(/^CALL .*maxCurrent/, "the RPC as DataTransfer");
        expect(calls()[1]!.slice(2)).toEqual(["DataTransfer", { vendorId: "1", data: '{"maxCurrent":16}' }]);

        await platform.harness.sendDeviceRpc(DEVICE, rpcBase + 2, "set", "value=pause");
        expect((await rpcReply(rpcBase + 2)).body.data).toEqual({ status: "Accepted", data: "pause" });

        await platform.harness.sendDeviceRpc(SECOND, rpcBase + 3, "Reset", { type: "Soft" });
        expect((await rpcReply(rpcBase + 3)).body.data).toEqual({ status: "Accepted" });
        expect(lib.received).toEqual([{ method: "Reset", params: { type: "Soft" } }]);
      } finally {
        await stranger?.stop();
        await lib?.client.close({ force: true });
        await cp?.stop();
        await gw?.stop();
      }
    }, 120_000);
  }

  test("from the compiled binary: wss:// with the sample's charge point, StatusNotification by its own key, withResponse false sends no reply; across a restart the charge point keeps its device without booting again", async () => {
    const pki = makeTestPki();
    const port = await freePort();
    const cfg = JSON.parse(readFileSync(join(SAMPLES, "ocpp.json"), "utf8"));
    cfg.centralSystem.port = port;
    cfg.centralSystem.connection = { type: "tls", cert: pki.serverCert, key: pki.serverKey };
    cfg.chargePoints[0].attributes.push({ messageTypeFilter: "StatusNotification", key: "status${connector_id}", value: "${status}" });
    cfg.chargePoints[0].serverSideRpc.push({ methodRPC: "quiet", withResponse: false, valueExpression: "${params.level}" });
    const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "ocpp", name: "OCPP wss", configuration: "ocpp.json" }]), { "ocpp.json": cfg });
    const received = platform.harness.received.length;
    let gw: Started | undefined;
    let cp: PyChargePoint | undefined;
    try {
      gw = await startGatewayFrom("binary", files.configPath, { timeoutMs: 30_000 });
      cp = startPyChargePoint(`wss://127.0.0.1:${port}/bidon/hello/CP_1`, { auth: "Bearer ACCESS_TOKEN", cafile: pki.caCert });
      await cp.line(/^OPEN ocpp1\.6$/, "the TLS handshake");
      await cp.call("b1", "BootNotification", { chargePointVendor: "Acme", chargePointModel: "Wallbox 7" });
      expect(await cp.call("s1", "StatusNotification", { connectorId: 2, errorCode: "NoError", status: "Charging" })).toEqual([3, "s1", {}]);
      const attrs = await platform.harness.waitFor((h) => h.received.slice(received).find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.status2), 15_000, "status attribute");
      expect(attrs.body[DEVICE]).toEqual({ status2: "Charging" });

      // the quiet RPC reaches the charge point but is never answered; the next one is (in order)
      await platform.harness.sendDeviceRpc(DEVICE, 301, "quiet", { level: 2 });
      await cp.line(/^CALL .*"data": ?"2"/, "the quiet RPC as DataTransfer");
      await platform.harness.sendDeviceRpc(DEVICE, 302, "GetConfiguration", {});
      expect((await rpcReply(302)).body.data).toEqual({ configurationKey: [{ key: "HeartbeatInterval", readonly: false, value: "10" }] });
      expect(deviceRpcReply(platform.harness, 301)).toBeUndefined();

      // restart: the charge point reconnects without booting (as real ones do) and its data still goes to its device
      await cp.stop();
      await gw.stop();
      gw = await startGatewayFrom("binary", files.configPath, { timeoutMs: 30_000 });
      const restarted = platform.harness.received.length;
      cp = startPyChargePoint(`wss://127.0.0.1:${port}/bidon/hello/CP_1`, { auth: "Bearer ACCESS_TOKEN", cafile: pki.caCert });
      await cp.line(/^OPEN ocpp1\.6$/, "the reconnect after the restart");
      const mv = { connectorId: 4, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: "7.25" }] }] };
      expect(await cp.call("m9", "MeterValues", mv)).toEqual([3, "m9", {}]);
      const after = await platform.harness.waitFor((h) => h.received.slice(restarted).find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.temp1 !== undefined), 15_000, "meter values after the restart");
      expect(after.body[DEVICE]).toEqual({ temp1: 7.25, vendorId: 4 });
      expect(cp.lines().filter((l) => l.includes("TriggerMessage"))).toEqual([]);
    } finally {
      await cp?.stop();
      await gw?.stop();
    }
  }, 120_000);
});
