// The whole gateway (`tb-gw run`, own process; from source and from the compiled binary) with the
// upstream sample bacnet.json against the BACnet test peer (its own process on 127.0.0.2) and
// Mosquitto playing the platform: the device is discovered and polled, the sample's attribute
// update writes the peer's object and its readProperty RPC answers.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { FROM_BOTH, gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { deviceRpcReply, platformForEachTest } from "../../../test/support/platform.ts";
import { freeUdpPort } from "../../../test/support/ports.ts";
import type { Started } from "../../../test/support/process.ts";
import { bacnetSample, upstreamMain } from "../../../test/support/upstream.ts";
import { PEER_HOST, startPeer, waitOutput } from "./peer-process.ts";

const DEVICE = "BACnet Device TestDevice";
let peer: Awaited<ReturnType<typeof startPeer>>;

beforeAll(async () => {
  gatewayBinary();
  peer = await startPeer(4720);
}, 240000);

afterAll(async () => {
  await peer?.stop();
});

const platform = platformForEachTest();

for (const from of FROM_BOTH) {
  test(`upstream bacnet.json in the gateway (${from}): discovery and polling, attribute update, readProperty RPC`, async () => {
    let gw: Started | undefined;
    try {
      const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "bacnet", name: "BACnet Connector", configuration: "bacnet.json" }]), {
        "bacnet.json": bacnetSample(await freeUdpPort("127.0.0.1"), PEER_HOST, peer.port, 500),
      });
      gw = await startGatewayFrom(from, files.configPath);
      const tel = await platform.harness.waitFor((h) => h.telemetry().find((r) => r.device === DEVICE && r.key === "state"), 20000, "state telemetry");
      expect(tel.value).toBe("1");
      const attrs = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.temperature !== undefined), 10000, "temperature attribute");
      expect(attrs.body).toEqual({ [DEVICE]: { temperature: 21.5 } });

      const brightness = 40 + (from === "binary" ? 1 : 0);
      await platform.harness.sendAttributeUpdate(DEVICE, { brightness });
      await waitOutput(peer, new RegExp(`write 1:1 prop=85 priority=\\d+ value=\\[${brightness}\\]`), 10000);
      await platform.harness.sendDeviceRpc(DEVICE, 21, "get_state", null);
      const reply = await platform.harness.waitFor((h) => deviceRpcReply(h, 21), 15000, "get_state reply");
      expect(reply.body).toEqual({ device: DEVICE, id: 21, data: "{'value': 18.25}" });
      expect(gw.proc.exitCode).toBeNull();
    } finally {
      await gw?.stop();
    }
  }, 60000);
}
