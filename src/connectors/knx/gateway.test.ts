// The KNX connector through the whole gateway: `tb-gw run` as its own process (from source and
// from the compiled binary), Mosquitto with the harness playing the platform, Debian's knxd with
// a dummy bus as the KNX/IP interface, in a network namespace of the test's own (test/netns.ts; the
// gateway, also the compiled binary, stays in the host's and tunnels over a veth pair). The upstream
// sample knx.json, changed only in gatewayIP and gatewayPort, gives the Python gateway's device, keys and values; its attribute update and RPC
// reach the bus.

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FROM_BOTH, gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import type { Started } from "../../../test/support/process.ts";
import { startKnxd } from "./test/knxd.ts";
import { createTestNetns } from "./test/netns.ts";
import { TYPES } from "./test/dpt-cases.ts";

const SAMPLE = join(SAMPLES, "knx.json");
const DEVICE = "Device KNX 1";

const platform = platformForFile();

const rpcReply = (id: number) => platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === id && r.body.device === DEVICE), 15_000, `RPC reply ${id}`);

describe("KNX connector in the gateway", () => {
  beforeAll(() => void gatewayBinary(), 300_000);

  for (const from of FROM_BOTH) {
    test(`upstream knx.json (gatewayIP and gatewayPort pointed at knxd) from ${from}: the Python gateway's device and values, downlink on the bus`, async () => {
      // 1/0/5 the name (DPT 16), 1/0/6 temperature 21.5 °C, 1/0/7 humidity 40 % (DPT 9)
      const knxd = await startKnxd({ "1/0/5": "4b4e582031", "1/0/6": "0c33", "1/0/7": "0fd0" });
      let gw: Started | undefined;
      try {
        const knxCfg = JSON.parse(readFileSync(SAMPLE, "utf8"));
        knxCfg.client.gatewayIP = knxd.host;
        knxCfg.client.gatewayPort = knxd.port;
        const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "knx", name: "KNX sample", configuration: "knx.json" }]), { "knx.json": knxCfg });
        const received = platform.harness.received.length;
        gw = await startGatewayFrom(from, files.configPath);
        const mine = () => platform.harness.received.slice(received);

        const connect = await platform.harness.waitFor(() => mine().find((r) => r.topic === "v1/gateway/connect" && r.body.device === DEVICE), 30_000, "device connect");
        expect(connect.body).toEqual({ device: DEVICE, type: "default" });
        const attrs = await platform.harness.waitFor(() => mine().find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.temperature !== undefined), 30_000, "temperature attribute");
        expect(attrs.body[DEVICE]).toEqual({ temperature: 21.5 });
        const tele = await platform.harness.waitFor(() => mine().find((r) => r.topic === "v1/gateway/telemetry" && r.body[DEVICE]), 30_000, "humidity telemetry");
        expect(tele.body[DEVICE]).toEqual([{ ts: expect.any(Number), values: { humidity: 40 } }]);

        // the sample's brightness rule ("precent_U8", read as percentU8): 77 → one byte 0x4d on 1/0/9
        await platform.harness.sendAttributeUpdate(DEVICE, { brightness: 77 });
        expect(await knxd.until((t) => t.find((x) => x.kind === "write" && x.address === "1/0/9"), "brightness write")).toEqual({ kind: "write", address: "1/0/9", hex: "4d" });

        // get_name (a read rule) with params {}: read from the bus, the name back
        await platform.harness.sendDeviceRpc(DEVICE, 501, "get_name", {});
        expect((await rpcReply(501)).body.data).toEqual({ value: "KNX 1" });
        // set_name writes the params as DPT 16 text
        await platform.harness.sendDeviceRpc(DEVICE, 502, "set_name", "Lobby");
        expect((await rpcReply(502)).body.data).toEqual({ success: true });
        expect(await knxd.until((t) => t.find((x) => x.kind === "write" && x.address === "1/0/5"), "name write")).toEqual({ kind: "write", address: "1/0/5", hex: "4c6f626279000000000000000000" });
        // a humidity written on the bus by knxtool is reported without waiting for the next poll
        knxd.groupWrite("1/0/7", "0c1a");
        await platform.harness.waitFor(() => mine().find((r) => r.topic === "v1/gateway/telemetry" && r.body[DEVICE]?.[0]?.values?.humidity === 21), 30_000, "written humidity");
        await knxd.until((t) => t.some((x) => x.kind === "read" && x.address === "1/0/6") ? true : undefined, "gateway reads");
        // knxd's multicast join stays in its namespace: no host device is in 224.0.23.12
        expect(knxd.groupMembers()).toEqual({ netns: [knxd.netns.nsDevice], host: [] });
        // the tunnel's return end: the host's end of the veth pair, the route's source toward knxd
        expect(knxd.netns.hostUdpSockets()).toHaveLength(1);
      } finally {
        if (process.env.KNX_DEBUG) console.log(gw?.output());
        await gw?.stop();
        await knxd.stop();
      }
    }, 120_000);
  }

  test("from the compiled binary: every DPT rendered as upstream renders it, and a dead address delays no other device", async () => {
    const knxd = await startKnxd(Object.fromEntries(TYPES.map((t) => [t.ga, t.payload])));
    let gw: Started | undefined;
    try {
      const knxCfg = {
        client: { type: "TUNNELING", gatewayIp: knxd.host, gatewayPort: knxd.port, readTimeout: 60 },
        devices: [
          // 2/2/9 has no device behind it: this device's poll waits 60 s for it
          { deviceInfo: { deviceNameExpression: "Half dead" }, pollPeriod: 300, timeseries: [{ key: "x", type: "temperature", groupAddress: "2/2/9" }, { key: "t", type: "temperature", groupAddress: "2/1/8" }] },
          { deviceInfo: { deviceNameExpression: "All types" }, pollPeriod: 300, attributes: TYPES.map((t) => ({ key: t.key, type: t.type, groupAddress: t.ga })) },
        ],
      };
      const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "knx", name: "KNX types", configuration: "knx.json" }]), { "knx.json": knxCfg });
      const received = platform.harness.received.length;
      gw = await startGatewayFrom("binary", files.configPath);
      const attrs = () => platform.harness.received.slice(received).filter((r) => r.topic === "v1/gateway/attributes" && r.body["All types"]?.switch !== undefined);
      await platform.harness.waitFor(() => attrs().length >= 3 || undefined, 30_000, "three polls of All types");
      expect(attrs()[0]!.body["All types"]).toEqual(Object.fromEntries(TYPES.map((t) => [t.key, t.value])));
      expect(platform.harness.received.slice(received).some((r) => r.topic === "v1/gateway/telemetry" && r.body["Half dead"])).toBe(false);
      await knxd.settled();
      expect(knxd.telegrams().filter((t) => t.kind === "read" && t.address === "2/2/9")).toHaveLength(1);
    } finally {
      if (process.env.KNX_DEBUG) console.log(gw?.output());
      await gw?.stop();
      await knxd.stop();
    }
  }, 120_000);

  test("from the compiled binary: the interface restarted, the gateway tunnels again and reports the new value", async () => {
    // one namespace for both knxd runs: the interface comes back at the same address and port
    const netns = createTestNetns();
    const port = 3671;
    let knxd = await startKnxd({ "5/0/1": "0c33" }, { netns, port }).catch((e) => {
      netns.destroy();
      throw e;
    });
    let gw: Started | undefined;
    try {
      const knxCfg = {
        client: { type: "TUNNELING", gatewayIp: netns.ip, gatewayPort: port, autoReconnectWait: 1 },
        devices: [{ deviceInfo: { deviceNameExpression: "Lab" }, pollPeriod: 500, timeseries: [{ key: "t", type: "temperature", groupAddress: "5/0/1" }] }],
      };
      const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "knx", name: "KNX restart", configuration: "knx.json" }]), { "knx.json": knxCfg });
      const received = platform.harness.received.length;
      gw = await startGatewayFrom("binary", files.configPath);
      const valueSeen = (v: number) => () => platform.harness.received.slice(received).some((r) => r.topic === "v1/gateway/telemetry" && r.body.Lab?.some((e: { values: { t?: number } }) => e.values.t === v)) || undefined;
      await platform.harness.waitFor(valueSeen(21.5), 30_000, "value before the restart");
      await knxd.stop();
      knxd = await startKnxd({ "5/0/1": "0c1a" }, { netns, port });
      await platform.harness.waitFor(valueSeen(21), 60_000, "value after the restart");
      expect(gw.output()).toContain("KNX connection lost");
    } finally {
      if (process.env.KNX_DEBUG) console.log(gw?.output());
      try {
        await gw?.stop();
        await knxd.stop();
      } finally {
        netns.destroy();
      }
    }
  }, 150_000);
});
