// A custom connector through the whole gateway: upstream's custom_serial.json (only the port changed,
// pointed at a socat pty) run by the shipped example port of upstream's CustomSerialConnector from
// `extensions/serial/`, once from source and once from the compiled binary (user .ts modules
// imported at run time, node_modules hidden). Lines the device writes reach the platform; an
// attribute update and RPCs reach the device and the replies come back; the generated id is
// written back into the connector file.

import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FROM_BOTH, gatewayBinary, startGatewayFrom } from "../../../test/support/gateway.ts";
import { deviceRpcReply, platformForFile } from "../../../test/support/platform.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import type { Started } from "../../../test/support/process.ts";
import { customWorld, SERIAL_ENTRY, serialSample } from "./test/config.ts";
import { startSerialPeer } from "./test/serial-peer.ts";

const DEVICE = "SerialDevice1";
const platform = platformForFile();
beforeAll(() => {
  gatewayBinary(); // built here, not inside a test's timeout
}, 240_000);

const rpcReply = (id: number) => platform.harness.waitFor((h) => deviceRpcReply(h, id), 20_000, `RPC reply ${id}`);

describe("upstream custom_serial.json with the example CustomSerialConnector", () => {
  for (const from of FROM_BOTH) {
    test(`from ${from}: device lines on the platform, attribute update and RPC on the device, replies back`, async () => {
      const peer = await startSerialPeer();
      let gw: Started | undefined;
      try {
        const files = customWorld(platform.port, [SERIAL_ENTRY], { "custom_serial.json": serialSample(peer.gatewayPath) });
        const seen = platform.harness.received.length;
        gw = await startGatewayFrom(from, files.configPath, { timeoutMs: 40_000 });
        await waitLog(gw, /reading .*ttyA/);

        peer.write("21.5\r\n");
        peer.write("SN: AB-77\r\n");
        const fresh = () => platform.harness.received.slice(seen);
        await platform.harness.waitFor((h) => h.telemetry().some((t) => t.device === DEVICE && t.key === "humidity" && t.value === 21.5), 20_000, "humidity from the device");
        const attrs = await platform.harness.waitFor((h) => h.received.slice(seen).find((r) => r.topic === "v1/gateway/attributes" && r.body[DEVICE]?.SerialNumber), 20_000, "SerialNumber");
        expect(attrs.body[DEVICE].SerialNumber).toBe("AB-77");
        expect(fresh().find((r) => r.topic === "v1/gateway/connect" && r.body.device === DEVICE)?.body).toEqual({ device: DEVICE, type: "default" });
        // upstream writes a generated id back into the connector file
        expect(JSON.parse(readFileSync(join(files.dir, "custom_serial.json"), "utf8")).id).toMatch(/^[0-9a-f-]{36}$/);

        await platform.harness.sendAttributeUpdate(DEVICE, { attr1: 7 });
        await peer.until((t) => t.includes("value = 7\n"), "the attribute update's stringToDevice");

        const id = from === "source" ? 31 : 32;
        const before = peer.received().length;
        await platform.harness.sendDeviceRpc(DEVICE, id, "setValue", 42);
        await peer.until((t) => t.slice(before).includes("42\n"), "the RPC's params on the port");
        peer.write("OK 42\r");
        // the core sends a reply's `result` alone, as for every connector
        expect((await rpcReply(id)).body.data).toBe("OK 42");

        await platform.harness.sendDeviceRpc(DEVICE, id + 10, "getValue", "x");
        expect((await rpcReply(id + 10)).body.data).toEqual({ success: true });
        await platform.harness.sendDeviceRpc(DEVICE, id + 20, "noSuchMethod", {});
        expect((await rpcReply(id + 20)).body.data).toEqual({ error: `no RPC noSuchMethod for device ${DEVICE}` });
      } finally {
        await gw?.stop();
        await peer.stop();
      }
    }, 120_000);
  }
});

function waitLog(gw: Started, re: RegExp): Promise<void> {
  return waitUntil(() => re.test(gw.output()), 20_000, `log line ${re}`);
}
