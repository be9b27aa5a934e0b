// KNXnet/IP routing (client.type ROUTING) through the whole gateway, from source and from the
// compiled binary, against Debian's knxd as a KNX/IP router (routing server on 224.0.23.12:3671,
// dummy bus). Multicast must never reach a host interface, so both sides run in network
// namespaces of the test's own, joined only by a veth pair (test/netns.ts `peerNamespace`): knxd in
// one, the gateway in the other; neither namespace has a link to the host's network. The gateway
// reaches the platform's broker (host 127.0.0.1) through a unix-socket bridge (test/bridge.ts);
// knxtool and the responder reach knxd through its unix socket.

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BUN, CLI, FROM_BOTH, gatewayBinary, mainConfig, writeGatewayConfig, type GatewayFrom } from "../../../test/support/gateway.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { startProcess, type Started } from "../../../test/support/process.ts";
import { bridgeToHost, type PlatformBridge } from "./test/bridge.ts";
import { startKnxd, type Knxd } from "./test/knxd.ts";
import { createTestNetns, type TestNetns } from "./test/netns.ts";

const SAMPLE = join(SAMPLES, "knx.json");
const DEVICE = "Device KNX 1";

const platform = platformForFile();

/** `tb-gw run` inside the namespace's peer (as startGatewayFrom runs it, wrapped in `ip netns exec`). */
function startGatewayIn(netns: TestNetns, from: GatewayFrom, configPath: string): Promise<Started> {
  const run = ["run", "--config", configPath];
  const [cmd, args] = from === "binary" ? gatewayBinary().command(run) : [BUN, [CLI, ...run]];
  return startProcess(...netns.peer!.exec(cmd, args), {
    cwd: from === "binary" ? dirname(configPath) : undefined,
    ready: /gateway started/,
    timeoutMs: 20_000,
    env: { TB_GW_LOG_LEVEL: "INFO" },
  });
}

/** knxd routing in one namespace, the bridge to the platform in the other; `body` gets both. */
async function withRouter(values: Record<string, string>, body: (knxd: Knxd, netns: TestNetns, bridge: PlatformBridge) => Promise<void>): Promise<void> {
  const netns = createTestNetns({ peerNamespace: true });
  let knxd: Knxd | undefined;
  let bridge: PlatformBridge | undefined;
  try {
    knxd = await startKnxd(values, { netns, routing: true });
    bridge = await bridgeToHost(netns, platform.port);
    await body(knxd, netns, bridge);
  } finally {
    try {
      await bridge?.stop();
      await knxd?.stop();
    } finally {
      netns.destroy();
    }
  }
}

const rpcReply = (id: number) => platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === id && r.body.device === DEVICE), 15_000, `RPC reply ${id}`);

describe("KNX routing (multicast) in the gateway", () => {
  beforeAll(() => void gatewayBinary(), 300_000);

  for (const from of FROM_BOTH) {
    test(`upstream knx.json with type ROUTING from ${from}: polled values, bus writes reported, downlink multicast to knxd`, async () => {
      // 1/0/5 the name (DPT 16), 1/0/6 temperature 21.5 °C, 1/0/7 humidity 40 % (DPT 9)
      await withRouter({ "1/0/5": "4b4e582031", "1/0/6": "0c33", "1/0/7": "0fd0" }, async (knxd, netns, bridge) => {
        let gw: Started | undefined;
        try {
          // Only the type changes: localIp 0.0.0.0 means the address routed toward the group (the
          // namespace's veth end), individualAddress 1.0.10 is the source of what the gateway sends.
          const knxCfg = JSON.parse(readFileSync(SAMPLE, "utf8"));
          knxCfg.client.type = "ROUTING";
          const files = writeGatewayConfig(mainConfig(bridge.port, { type: "memory" }, [{ type: "knx", name: "KNX routing", configuration: "knx.json" }]), { "knx.json": knxCfg });
          const received = platform.harness.received.length;
          gw = await startGatewayIn(netns, from, files.configPath);
          const mine = () => platform.harness.received.slice(received);

          // polled: GroupValueRead multicast to knxd, the responder's GroupValueResponse back the same way
          const connect = await platform.harness.waitFor(() => mine().find((r) => r.topic === "v1/gateway/connect" && r.body.device === DEVICE), 30_000, "device connect");
          expect(connect.body).toEqual({ device: DEVICE, type: "default" });
          const attrs = await platform.harness.waitFor(() => mine().find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.temperature !== undefined), 30_000, "temperature attribute");
          expect(attrs.body[DEVICE]).toEqual({ temperature: 21.5 });
          const tele = await platform.harness.waitFor(() => mine().find((r) => r.topic === "v1/gateway/telemetry" && r.body[DEVICE]), 30_000, "humidity telemetry");
          expect(tele.body[DEVICE]).toEqual([{ ts: expect.any(Number), values: { humidity: 40 } }]);
          await knxd.settled();
          expect(knxd.telegrams().some((t) => t.kind === "read" && t.address === "1/0/6")).toBe(true);

          // the brightness attribute update: one byte 0x4d on 1/0/9, sent as 1.0.10
          await platform.harness.sendAttributeUpdate(DEVICE, { brightness: 77 });
          expect(await knxd.until((t) => t.find((x) => x.kind === "write" && x.address === "1/0/9"), "brightness write")).toEqual({ kind: "write", address: "1/0/9", hex: "4d" });
          await knxd.until((t) => (knxd.monitorLines().some((l) => l.includes("1.0.10") && l.includes("1/0/9")) ? true : undefined), "knxtool vbusmonitor1 sees 1.0.10 write 1/0/9");

          // set on the humidity address: the write goes out and comes back by multicast loopback;
          // the gateway must not take its own telegram for a value on the bus (no humidity 33)
          await platform.harness.sendDeviceRpc(DEVICE, 601, "set", "groupAddress=1/0/7;dataType=humidity;value=33;");
          expect((await rpcReply(601)).body.data).toEqual({ success: true });
          await knxd.until((t) => t.find((x) => x.kind === "write" && x.address === "1/0/7"), "humidity write");
          // get_name with params {}: a read through the router
          await platform.harness.sendDeviceRpc(DEVICE, 602, "get_name", {});
          expect((await rpcReply(602)).body.data).toEqual({ value: "KNX 1" });

          // a humidity written on the bus by knxtool reaches the gateway as a ROUTING_INDICATION
          knxd.groupWrite("1/0/7", "0c1a");
          await platform.harness.waitFor(() => mine().find((r) => r.topic === "v1/gateway/telemetry" && r.body[DEVICE]?.[0]?.values?.humidity === 21), 30_000, "written humidity");
          const humidities = mine().filter((r) => r.topic === "v1/gateway/telemetry" && r.body[DEVICE]).map((r) => r.body[DEVICE][0].values.humidity);
          expect(humidities).not.toContain(33);

          // the multicast stayed in the two namespaces: joined on each veth end, on no host device
          expect(knxd.groupMembers()).toEqual({ netns: [netns.nsDevice], host: [], peer: [netns.hostDevice] });
        } finally {
          if (process.env.KNX_DEBUG) console.log(gw?.output());
          await gw?.stop();
        }
      });
    }, 120_000);
  }

  test("a localIp no interface of the machine has: the group join fails with a message that says so, logged once, nothing polled", async () => {
    await withRouter({ "1/0/5": "4b4e582031" }, async (knxd, netns, bridge) => {
      let gw: Started | undefined;
      try {
        const knxCfg = {
          client: { type: "ROUTING", localIp: "10.255.255.1", autoReconnectWait: 1 },
          devices: [{ deviceInfo: { deviceNameExpression: "Nowhere" }, pollPeriod: 500, timeseries: [{ key: "t", type: "temperature", groupAddress: "1/0/6" }] }],
        };
        const files = writeGatewayConfig(mainConfig(bridge.port, { type: "memory" }, [{ type: "knx", name: "KNX bad interface", configuration: "knx.json" }]), { "knx.json": knxCfg });
        gw = await startGatewayIn(netns, "source", files.configPath);
        const g = gw;
        await waitUntil(() => g.output().includes("KNX connection failed"), 20_000, "the failed join logged");
        expect(g.output()).toContain("joining the KNX multicast group 224.0.23.12:3671 on 10.255.255.1: ");
        expect(g.output()).toContain("client.localIp must be an address of this machine's interface");
        // attempts go on every second; the problem stays the same, so it is not logged again
        const tries = Date.now();
        await waitUntil(() => Date.now() - tries > 3000, 10_000, "three more attempts");
        expect(g.output().match(/KNX connection failed/g)).toHaveLength(1);
        expect(g.output()).not.toContain("routing: joined");
        expect(knxd.groupMembers().peer).toEqual([]);
        expect(knxd.telegrams().filter((t) => t.kind === "read")).toEqual([]);
      } finally {
        if (process.env.KNX_DEBUG) console.log(gw?.output());
        await gw?.stop();
      }
    });
  }, 60_000);
});
