// The CAN connector through the whole gateway: `tb-gw run` as its own process, Mosquitto with the
// harness playing the platform, python-can's slcan interface on a socat pty pair as the bus. The
// upstream sample can.json, changed only in interface and channel, gives the Python gateway's
// devices, keys and values (plus the rpm its routing loses), its polls reach the bus, and its
// attribute update and RPC arrive as frames; it also runs once from the compiled binary.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { mainConfig, startGateway, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { testBinary } from "../../../test/support/binary.ts";
import { platformForFile } from "../../../test/support/platform.ts";
import { startProcess, type Started } from "../../../test/support/process.ts";
import { startCanPeer } from "./test/peer.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { join } from "node:path";

const SAMPLE = join(SAMPLES, "can.json");
const DEVICE = "Car";

const platform = platformForFile();

const rpcReply = (id: number) => platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === id && r.body.device === DEVICE), 10_000, `RPC reply ${id}`);

/** The upstream sample on an slcan pty behind a gateway started by `start`. */
async function runUpstreamSample(rpcId: number, start: (configPath: string) => Promise<Started>): Promise<void> {
  const peer = await startCanPeer();
  let gw: Started | undefined;
  try {
    const canCfg = JSON.parse(readFileSync(SAMPLE, "utf8"));
    canCfg.interface = "slcan";
    canCfg.channel = peer.gatewayPath;
    const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "can", name: "CAN sample", configuration: "can.json" }]), { "can.json": canCfg });
    const received = platform.harness.received.length;
    gw = await start(files.configPath);

    // polls at start: the once key, and the first of each periodic key
    const polls = await peer.until((f) => (f.length >= 3 ? f.slice(0, 3) : undefined), "three polling frames");
    expect(new Set(polls.map((p) => JSON.stringify(p)))).toEqual(
      new Set([
        { id: 41, extended: false, data: "abcdabcd" },
        { id: 1918, extended: true, data: "aaaabbbbaaaabbbb" },
        { id: 1918, extended: true, data: "aabbccddeeffaabb" },
      ].map((p) => JSON.stringify(p))),
    );
    const connect = await platform.harness.waitFor((h) => h.received.slice(received).find((r) => r.topic === "v1/gateway/connect" && r.body.device === DEVICE), 10_000, "device connect");
    expect(connect.body).toEqual({ device: DEVICE, type: "can" });

    // the device answers: door state (command 8717), rpm (command 48059) with milliage (no command)
    await peer.send(41, false, "0000220d04");
    await peer.send(1918, true, "0000bbbb0fa00000");
    const attrs = await platform.harness.waitFor((h) => h.received.slice(received).find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.isDriverDoorOpened !== undefined), 15_000, "door attribute");
    expect(attrs.body[DEVICE]).toEqual({ isDriverDoorOpened: true });
    // this run's telemetry only (the harness is shared by the tests of this file)
    const values = await platform.harness.waitFor((h) => {
      const rows = h.received.slice(received).filter((r) => r.topic === "v1/gateway/telemetry" && r.body[DEVICE]);
      const v = Object.assign({}, ...rows.flatMap((r) => r.body[DEVICE].map((e: { values: object }) => e.values)));
      return "rpm" in v ? v : undefined;
    }, 15_000, "rpm telemetry");
    expect(values).toEqual({ rpm: 1000, milliage: 409750 });

    // attribute update: (10 + 5) in 4 little-endian bytes on extended id 64
    await platform.harness.sendAttributeUpdate(DEVICE, { softwareVersion: 10 });
    const update = await peer.until((f) => f.find((x) => x.id === 64), "attribute update frame");
    expect(update).toEqual({ id: 64, extended: true, data: "0f000000" });

    // RPC: the lower of the two speeds, then dataAfter
    await platform.harness.sendDeviceRpc(DEVICE, rpcId, "setSpeed", { userSpeed: 50, maxAllowedSpeed: 40 });
    expect(await peer.until((f) => f.find((x) => x.id === 16), "setSpeed frame")).toEqual({ id: 16, extended: false, data: "280102" });
    expect((await rpcReply(rpcId)).body.data).toEqual({ success: true });
    // the sample's sendSameData hex is malformed (a lone "d"): an error reply, as the Python gateway fails it too
    await platform.harness.sendDeviceRpc(DEVICE, rpcId + 1, "sendSameData", {});
    const failed = (await rpcReply(rpcId + 1)).body.data;
    expect(failed.success).toBe(false);
    expect(failed.error).toContain('dataInHex: "aa bb cc dd ee ff    aa bb aa bb cc d ee ff" is not hex bytes');
  } finally {
    await gw?.stop();
    await peer.stop();
  }
}

describe("CAN connector in the gateway", () => {
  test("upstream can.json (interface slcan, channel a pty): the Python gateway's data on the platform, polls and downlink on the bus", async () => {
    await runUpstreamSample(100, (path) => startGateway(path));
  }, 60_000);

  test("upstream can.json from the compiled binary", async () => {
    const bin = testBinary("tbgw-can-bin-");
    await runUpstreamSample(200, (path) => {
      const [cmd, args] = bin.command(["run", "--config", path]);
      return startProcess(cmd, args, { ready: /gateway started/, timeoutMs: 30_000, env: { TB_GW_LOG_LEVEL: "INFO" } });
    });
  }, 240_000);
});
