// gRPC connectors through the whole gateway: `tb-gw run` as its own process with the gRPC server
// on, Mosquitto with the harness playing the platform, and the connector process played by
// Debian's grpcio (Python) with stubs generated from our messages.proto by grpc_tools.protoc.
// The main scenario runs from source and from the compiled binary on the upstream tb_gateway.json
// (changed only to point at the test ports and keep the server on loopback).

import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { FROM_BOTH, gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig, type GatewayFrom } from "../../../test/support/gateway.ts";
import { deviceRpcReply, platformForFile } from "../../../test/support/platform.ts";
import { freePort } from "../../../test/support/ports.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import type { Started } from "../../../test/support/process.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { pythonStubs, startPeer, type Msg, type Peer } from "./test/peer.ts";

const platform = platformForFile();
beforeAll(() => {
  pythonStubs();
  void gatewayBinary();
}, 240_000);

const CONNECTOR_FILE = { server: { host: "127.0.0.1", port: 1883 }, mapping: [{ topic: "sensors/#" }] };

/** The upstream tb_gateway.json with the platform, the gRPC port and a loopback listen address set, and `connectors`. */
function upstreamMain(grpcPort: number, connectors: unknown[], grpc: Record<string, unknown> = {}): Record<string, unknown> {
  const main = JSON.parse(readFileSync(join(SAMPLES, "tb_gateway.json"), "utf8"));
  main.thingsboard.host = "127.0.0.1";
  main.thingsboard.port = platform.port;
  main.grpc = { ...main.grpc, enabled: true, serverPort: grpcPort, serverHost: "127.0.0.1", ...grpc };
  main.connectors = connectors;
  return main;
}

const kv = {
  long: (key: string, v: number | string) => ({ key, type: "LONG_V", long_v: String(v) }),
  double: (key: string, v: number) => ({ key, type: "DOUBLE_V", double_v: v }),
  bool: (key: string, v: boolean) => ({ key, type: "BOOLEAN_V", bool_v: v }),
  str: (key: string, v: string) => ({ key, type: "STRING_V", string_v: v }),
  json: (key: string, v: unknown) => ({ key, type: "JSON_V", json_v: JSON.stringify(v) }),
};

async function register(peer: Peer, key: string): Promise<Msg> {
  const first = await peer.call({ registerConnectorMsg: { connectorKey: key } });
  expect(first.error).toBeUndefined();
  // tb-gw answers in the reply to the register call itself; the reference client takes it from any reply
  return first.reply;
}

const telemetryOf = (device: string) => Object.fromEntries(platform.harness.telemetry().filter((t) => t.device === device).map((t) => [t.key, t.value]));

for (const from of FROM_BOTH) {
  test(`upstream tb_gateway.json (${from}): a Python connector process registers, sends data, answers an RPC, gets an attribute update`, async () => {
    const port = await freePort();
    const device = `py-meter-${from}`;
    const rpcId = from === "source" ? 77 : 78; // one platform harness for the file: ids must not repeat
    const files = writeGatewayConfig(upstreamMain(port, [{ type: "grpc", name: "Python connector", configuration: "py.json", key: "k3y-of-python" }]), { "py.json": CONNECTOR_FILE });
    let gw: Started | undefined;
    let peer: Peer | undefined;
    try {
      gw = await startGatewayFrom(from, files.configPath);
      peer = await startPeer(port);
      const reg = await register(peer, "k3y-of-python");
      expect(reg.response).toEqual({ status: "SUCCESS", connectorMessage: { registerConnectorMsg: {} } });
      const id = JSON.parse(readFileSync(join(files.dir, "py.json"), "utf8")).id;
      expect(reg.connectorConfigurationMsg).toEqual({ connectorName: "Python connector", connectorId: id, configuration: expect.any(String) });
      expect(JSON.parse(reg.connectorConfigurationMsg.configuration)).toMatchObject({ ...CONNECTOR_FILE, id, name: "Python connector" });

      // a poll with nothing queued: the empty reply is exactly the two bytes 0a 00
      expect((await peer.call({ response: {} })).raw).toBe("0a00");
      const connect = await peer.call({ connectMsg: { deviceName: device, deviceType: "meter" } });
      expect(connect.reply.response).toEqual({ status: "SUCCESS", connectorMessage: { connectMsg: { deviceName: device, deviceType: "meter" } } });
      await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/connect" && r.body.device === device), 15_000, "device connect");
      expect(platform.harness.received.find((r) => r.topic === "v1/gateway/connect" && r.body.device === device)?.body).toEqual({ device, type: "meter" });

      // telemetry and attributes in one request, every value type
      const ts = 1_700_000_000_123;
      const data = await peer.call({
        gatewayTelemetryMsg: { msg: [{ deviceName: device, msg: { tsKvList: [{ ts: String(ts), kv: [kv.long("count", 42), kv.double("temp", 21.5), kv.bool("on", true), kv.str("mode", "eco"), kv.json("cfg", { a: [1, 2] }), kv.long("big", "9007199254740993")] }] } }] },
        gatewayAttributesMsg: { msg: [{ deviceName: device, msg: { kv: [kv.str("firmware", "1.2.3"), kv.bool("off", false)] } }] },
      });
      expect(data.raw).toBe("0a00");
      await platform.harness.waitFor((h) => h.telemetry().filter((t) => t.device === device).length >= 6, 15_000, "telemetry");
      expect(telemetryOf(device)).toEqual({ count: 42, temp: 21.5, on: true, mode: "eco", cfg: { a: [1, 2] }, big: "9007199254740993" });
      expect(platform.harness.telemetry().find((t) => t.device === device)?.ts).toBe(ts);
      await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body[device]?.firmware), 15_000, "attributes");
      expect(platform.harness.received.find((r) => r.topic === "v1/gateway/attributes" && r.body[device]?.firmware)?.body[device]).toEqual({ firmware: "1.2.3", off: false });

      // RPC from the platform → polled by the connector → its answer back to the platform
      await platform.harness.sendDeviceRpc(device, rpcId, "setMode", { mode: "boost", level: 3 });
      const rpc = await peer.pollUntil((r) => !!r.gatewayDeviceRpcRequestMsg, "the RPC");
      expect(rpc.gatewayDeviceRpcRequestMsg).toEqual({ deviceName: device, rpcRequestMsg: { requestId: rpcId, methodName: "setMode", params: JSON.stringify({ mode: "boost", level: 3 }) } });
      await peer.call({ gatewayRpcResponseMsg: { deviceName: device, id: rpcId, data: JSON.stringify({ success: true, mode: "boost" }) } });
      const reply = await platform.harness.waitFor((h) => deviceRpcReply(h, rpcId), 15_000, "RPC reply");
      expect(reply.body).toEqual({ device, id: rpcId, data: { success: true, mode: "boost" } });

      // shared attribute update → notification, one sharedUpdated per key
      await platform.harness.sendAttributeUpdate(device, { target: 22.5, label: "hall", enabled: true });
      const upd = await peer.pollUntil((r) => !!r.gatewayAttributeUpdateNotificationMsg, "the attribute update");
      expect(upd.gatewayAttributeUpdateNotificationMsg.deviceName).toBe(device);
      const shared = upd.gatewayAttributeUpdateNotificationMsg.notificationMsg.sharedUpdated.map((u: Msg) => u.kv);
      expect(shared).toEqual([
        { key: "target", type: "DOUBLE_V", double_v: 22.5 },
        { key: "label", type: "STRING_V", string_v: "hall" },
        { key: "enabled", bool_v: true }, // BOOLEAN_V is enum value 0: proto3 leaves it off the wire
      ]);

      // attribute request (shared scope) → answered from the platform with the connector's id
      platform.harness.sharedAttributes[device] = { setpoint: 19 };
      await peer.call({ gatewayAttributeRequestMsg: { id: 5, deviceName: device, client: false, keys: ["setpoint"] } });
      const ans = await peer.pollUntil((r) => !!r.gatewayAttributeResponseMsg, "the attribute response");
      expect(ans.gatewayAttributeResponseMsg).toEqual({ deviceName: device, responseMsg: { requestId: 5, sharedAttributeList: [{ key: "setpoint", type: "LONG_V", long_v: "19" }] } });

      // deleted shared attributes → sharedDeleted
      await platform.harness.sendAttributeUpdate(device, { deleted: ["label"] });
      const del = await peer.pollUntil((r) => !!r.gatewayAttributeUpdateNotificationMsg, "the attribute deletion");
      expect(del.gatewayAttributeUpdateNotificationMsg).toEqual({ deviceName: device, notificationMsg: { sharedDeleted: ["label"] } });

      // claiming: one v1/gateway/claim per device
      const claim = await peer.call({ gatewayClaimMsg: { msg: [{ deviceName: device, claimRequest: { secretKey: "s3cret", durationMs: "60000" } }] } });
      expect(claim.reply.response.status).toBe("SUCCESS");
      const claimed = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/claim" && r.body[device]), 15_000, "claim");
      expect(claimed.body[device]).toEqual({ secretKey: "s3cret", durationMs: 60000 });

      const devs = await peer.call({ connectorGetConnectedDevicesMsg: {} });
      expect(devs.reply.connectorGetConnectedDevicesResponseMsg).toEqual({ connectorDevices: [{ deviceName: device, deviceType: "meter" }] });

      const unreg = await peer.call({ unregisterConnectorMsg: { connectorKey: "k3y-of-python" } });
      expect(unreg.reply.response).toEqual({ status: "SUCCESS", connectorMessage: { unregisterConnectorMsg: {} } });
      // with no process registered, an RPC for its device is answered at once with an error, not left to time out
      await platform.harness.sendDeviceRpc(device, rpcId + 100, "setMode", {});
      const orphan = await platform.harness.waitFor((h) => deviceRpcReply(h, rpcId + 100), 15_000, "RPC reply without a connector process");
      expect(JSON.stringify(orphan.body.data)).toContain("no connector process is registered");

      expect((await register(peer, "k3y-of-python")).response.status).toBe("SUCCESS");
      const disc = await peer.call({ disconnectMsg: { deviceName: device } });
      expect(disc.reply.response).toEqual({ status: "SUCCESS", connectorMessage: { disconnectMsg: { deviceName: device } } });
      await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/disconnect" && r.body.device === device), 15_000, "device disconnect");
      expect((await peer.call({ disconnectMsg: { deviceName: device } })).reply.response.status).toBe("FAILURE");
      expect(gw.output()).toMatch(/connector process registered/);
    } finally {
      await peer?.stop();
      await gw?.stop();
    }
  }, 120_000);
}

describe("gRPC connector server: refusals and errors", () => {
  test("unknown key, data before registering, no identifier, malformed bytes, a second process taking over the key", async () => {
    const port = await freePort();
    const files = writeGatewayConfig(upstreamMain(port, [{ type: "grpc", name: "Takeover", configuration: "t.json", key: "right-key" }]), { "t.json": CONNECTOR_FILE });
    let gw: Started | undefined;
    const peers: Peer[] = [];
    try {
      gw = await startGatewayFrom("source", files.configPath);
      const a = await startPeer(port);
      peers.push(a);
      expect((await register(a, "wrong-key")).response).toEqual({ status: "NOT_FOUND", connectorMessage: { registerConnectorMsg: {} } });
      await waitUntil(() => /unknown connector key "wrong-key"/.test(gw!.output()), 10_000, "the unknown key logged");
      // data from a session that is not registered: FAILURE + unregister, so the client registers again
      const early = await a.call({ gatewayTelemetryMsg: { msg: [{ deviceName: "x", msg: { tsKvList: [{ kv: [kv.long("v", 1)] }] } }] } });
      expect(early.reply).toEqual({ response: { status: "FAILURE" }, unregisterConnectorMsg: {} });

      const anonymous = await startPeer(port, null);
      peers.push(anonymous);
      expect((await anonymous.call({ registerConnectorMsg: { connectorKey: "right-key" } })).reply).toEqual({ response: { status: "FAILURE" } });

      const bad = await a.raw("ffffffff0f");
      expect(bad.error).toMatch(/^INTERNAL/);
      await waitUntil(() => /malformed gRPC request \(5 bytes\)/.test(gw!.output()), 10_000, "the malformed request logged");

      expect((await register(a, "right-key")).response.status).toBe("SUCCESS");
      // a restarted connector process (new session) takes over: FAILURE, unregister, register
      const b = await startPeer(port);
      peers.push(b);
      expect((await register(b, "right-key")).response).toEqual({ status: "FAILURE", connectorMessage: { registerConnectorMsg: {} } });
      expect((await b.call({ unregisterConnectorMsg: { connectorKey: "right-key" } })).reply.response.status).toBe("SUCCESS");
      expect((await register(b, "right-key")).response.status).toBe("SUCCESS");
      // the old session is no longer bound
      expect((await a.call({ connectMsg: { deviceName: "old" } })).reply).toEqual({ response: { status: "FAILURE" }, unregisterConnectorMsg: {} });
    } finally {
      for (const p of peers) await p.stop();
      await gw?.stop();
    }
  }, 90_000);

  test("port in use: a clear error, the gateway runs on and says why the grpc connector did not start", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    const files = writeGatewayConfig(upstreamMain(port, [{ type: "grpc", name: "Blocked", configuration: "b.json", key: "k" }]), { "b.json": CONNECTOR_FILE });
    let gw: Started | undefined;
    try {
      gw = await startGatewayFrom("source", files.configPath);
      expect(gw.output()).toContain(`port ${port} on 127.0.0.1 is in use`);
      expect(gw.output()).toMatch(/connector Blocked not started: connector type grpc needs the gRPC server/);
    } finally {
      await gw?.stop();
      blocker.close();
    }
  }, 60_000);
});

describe("gRPC connector process that vanishes", () => {
  // the frozen case runs from the binary: it depends on server.ts watching grpc-js's HTTP/2 sessions
  for (const [how, from] of [["killed (kill -9)", "source"], ["frozen (SIGSTOP): only keepalive notices", "binary"]] as const) {
    test(`${how}, ${from}: its devices are disconnected on the platform`, async () => {
      const port = await freePort();
      const device = `vanishing-${how.startsWith("killed") ? "killed" : "frozen"}`;
      const files = writeGatewayConfig(upstreamMain(port, [{ type: "grpc", name: "Vanishing", configuration: "v.json", key: "vk" }], { keepAliveTimeMs: 1000, keepAliveTimeoutMs: 1000, reconnectGraceMs: 3000 }), { "v.json": CONNECTOR_FILE });
      let gw: Started | undefined;
      let peer: Peer | undefined;
      try {
        gw = await startGatewayFrom(from, files.configPath);
        peer = await startPeer(port);
        expect((await register(peer, "vk")).response.status).toBe("SUCCESS");
        await peer.call({ gatewayTelemetryMsg: { msg: [{ deviceName: device, msg: { tsKvList: [{ kv: [kv.long("v", 1)] }] } }] } });
        await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/connect" && r.body.device === device), 15_000, "device connected");
        peer.kill(how.startsWith("killed") ? "SIGKILL" : "SIGSTOP");
        await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/disconnect" && r.body.device === device), 30_000, "device disconnected");
        expect(gw.output()).toMatch(how.startsWith("killed") ? /lost \(closed by the connector process\) and no call since: disconnecting its 1 device/ : /lost \(closed by the gateway: keepalive ping unanswered\) and no call since: disconnecting its 1 device/);
      } finally {
        await peer?.stop();
        await gw?.stop();
      }
    }, 90_000);
  }
});

describe("an idle, healthy connector process", () => {
  test("keepalive closes its idle connection (grpcio does not answer pings between calls) but its devices stay connected", async () => {
    const port = await freePort();
    const device = "idle-but-alive";
    // polls every 3.5 s: longer than the 2 s wait after a client close, shorter than reconnectGraceMs
    const files = writeGatewayConfig(upstreamMain(port, [{ type: "grpc", name: "Idle", configuration: "i.json", key: "ik" }], { keepAliveTimeMs: 500, keepAliveTimeoutMs: 500, reconnectGraceMs: 6000 }), { "i.json": CONNECTOR_FILE });
    let gw: Started | undefined;
    let peer: Peer | undefined;
    try {
      gw = await startGatewayFrom("source", files.configPath, { args: ["--log-level", "DEBUG"] });
      peer = await startPeer(port);
      expect((await register(peer, "ik")).response.status).toBe("SUCCESS");
      await peer.call({ gatewayTelemetryMsg: { msg: [{ deviceName: device, msg: { tsKvList: [{ kv: [kv.long("v", 1)] }] } }] } });
      await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/connect" && r.body.device === device), 15_000, "device connected");
      for (let i = 0; i < 4; i++) {
        await Bun.sleep(3500); // the idle gap is the point of the test
        const r = await peer.call({ response: {} });
        expect(r.error).toBeUndefined();
        expect(r.raw).toBe("0a00");
      }
      expect(platform.harness.received.filter((r) => r.topic === "v1/gateway/disconnect" && r.body.device === device)).toEqual([]);
      expect(gw.output()).toContain("closed by the gateway (keepalive ping unanswered)");
      expect(gw.output()).not.toContain("lost (");
    } finally {
      await peer?.stop();
      await gw?.stop();
    }
  }, 90_000);
});

describe("auto keys", () => {
  test("binary: an \"auto\" key is generated, kept in persistent_keys.json and accepted again after a restart", async () => {
    const port = await freePort();
    const files = writeGatewayConfig(upstreamMain(port, [{ type: "grpc", name: "Auto keyed", configuration: "a.json", key: "auto" }]), { "a.json": CONNECTOR_FILE });
    const keysFile = join(files.dir, "persistent_keys.json");
    let gw: Started | undefined;
    let peer: Peer | undefined;
    try {
      gw = await startGatewayFrom("binary", files.configPath);
      expect(existsSync(keysFile)).toBe(true);
      const key = JSON.parse(readFileSync(keysFile, "utf8"))["Auto keyed"];
      expect(key).toMatch(/^[0-9a-fA-F]{10}$/);
      expect(gw.output()).toContain(`generated connector key ${key}`);
      peer = await startPeer(port);
      expect((await register(peer, key)).response.status).toBe("SUCCESS");
      await peer.stop();
      await gw.stop();

      gw = await startGatewayFrom("binary", files.configPath);
      expect(JSON.parse(readFileSync(keysFile, "utf8"))).toEqual({ "Auto keyed": key });
      peer = await startPeer(port);
      expect((await register(peer, key)).response.status).toBe("SUCCESS");
    } finally {
      await peer?.stop();
      await gw?.stop();
    }
  }, 120_000);
});

describe("gateway restart", () => {
  test("the process's next poll after a gateway restart gets FAILURE + unregister; it registers again and its data flows", async () => {
    const port = await freePort();
    const device = "after-restart";
    const files = writeGatewayConfig(upstreamMain(port, [{ type: "grpc", name: "Survivor", configuration: "s.json", key: "sk" }]), { "s.json": CONNECTOR_FILE });
    let gw: Started | undefined;
    let peer: Peer | undefined;
    try {
      gw = await startGatewayFrom("source", files.configPath);
      peer = await startPeer(port);
      expect((await register(peer, "sk")).response.status).toBe("SUCCESS");
      await gw.stop();
      gw = await startGatewayFrom("source", files.configPath);
      // the same process and session (grpcio reconnects its channel by itself)
      let reply: Msg | undefined;
      for (let i = 0; i < 50 && !reply; i++) {
        const r = await peer.call({ response: {} });
        if (!r.error) reply = r.reply;
        else await Bun.sleep(200); // the channel reconnects with backoff after the gateway went away
      }
      expect(reply).toEqual({ response: { status: "FAILURE" }, unregisterConnectorMsg: {} });
      expect((await register(peer, "sk")).response.status).toBe("SUCCESS");
      await peer.call({ gatewayTelemetryMsg: { msg: [{ deviceName: device, msg: { tsKvList: [{ kv: [kv.long("n", 7)] }] } }] } });
      await platform.harness.waitFor((h) => h.telemetry().some((t) => t.device === device && t.value === 7), 15_000, "telemetry after the restart");
    } finally {
      await peer?.stop();
      await gw?.stop();
    }
  }, 90_000);
});

describe("connector reload", () => {
  test("a changed connector file restarts the connector: its process is told (unregisterConnectorMsg), registers again and gets the new configuration", async () => {
    const port = await freePort();
    const main = { ...mainConfig(platform.port, { type: "memory" }, [{ type: "grpc", name: "Reloaded", configuration: "r.json", key: "rk" }], { checkConnectorsConfigurationInSeconds: 1 }), grpc: { enabled: true, serverPort: port, serverHost: "127.0.0.1" } };
    const files = writeGatewayConfig(main, { "r.json": { version: 1 } });
    let gw: Started | undefined;
    let peer: Peer | undefined;
    try {
      gw = await startGatewayFrom("source", files.configPath);
      peer = await startPeer(port);
      const first = await register(peer, "rk");
      expect(JSON.parse(first.connectorConfigurationMsg.configuration).version).toBe(1);
      const file = join(files.dir, "r.json");
      writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), version: 2 }));
      const told = await peer.pollUntil((r) => !!r.unregisterConnectorMsg, "the unregister push", 30_000);
      expect(told).toEqual({ unregisterConnectorMsg: {} });
      // the restarted connector may not have its key back yet (NOT_FOUND): the process retries, as the reference client does
      let again = await register(peer, "rk");
      for (let i = 0; i < 50 && again.response?.status !== "SUCCESS"; i++) {
        expect(again.response?.status ?? "FAILURE").toMatch(/NOT_FOUND|FAILURE/);
        await Bun.sleep(100);
        again = await register(peer, "rk");
      }
      expect(again.response.status).toBe("SUCCESS");
      expect(JSON.parse(again.connectorConfigurationMsg.configuration).version).toBe(2);
    } finally {
      await peer?.stop();
      await gw?.stop();
    }
  }, 90_000);
});
