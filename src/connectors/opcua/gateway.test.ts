// The whole gateway (`tb-gw run`, own process; from source and from the compiled binary) with an
// OPC-UA connector against the test peer and Mosquitto playing the platform: integers beyond 2^53
// must reach the platform digit for digit, through SQLite storage and publish packing, in
// telemetry and in an RPC reply; and subscriptions must work (the poll period is a minute, so
// changing values can only arrive through them). In the binary a minifier once broke every
// subscription, which then fell back to polling.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FROM_BOTH, gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { platformForFile, type PlatformHarness } from "../../../test/support/platform.ts";
import type { Started } from "../../../test/support/process.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";

const POLL_MS = 60000;
let peer: OpcuaPeer;

beforeAll(async () => {
  gatewayBinary();
  peer = await startOpcuaPeer();
}, 240000);

afterAll(async () => {
  await peer?.stop();
});

for (const from of FROM_BOTH) {
  describe(`gateway with an OPC-UA connector (${from})`, () => {
    const platform = platformForFile();
    let gw: Started;

    beforeAll(async () => {
      const opcua = {
        server: { url: peer.url, enableSubscriptions: true, pollPeriodInMillis: POLL_MS },
        mapping: [
          {
            deviceNodePattern: "Root\\.Objects\\.Types",
            deviceInfo: { deviceNameExpression: "Big Ints" },
            attributes: [{ key: "u64", type: "path", value: "${UInt64}" }],
            timeseries: [
              { key: "big", type: "path", value: "${Int64Large}" },
              { key: "neg", type: "path", value: "${Int64}" },
              { key: "small", type: "path", value: "${Int32}" },
            ],
          },
          {
            deviceNodePattern: "Root\\.Objects\\.MyObject",
            deviceInfo: { deviceNameExpression: "Multiplier" },
            // changes every 100 ms on the peer
            timeseries: [{ key: "temperature", type: "path", value: "${Temperature}" }],
            rpc_methods: [{ method: "multiply", arguments: [{ type: "integer", value: 1 }, { type: "integer", value: 1 }] }],
          },
        ],
      };
      const storage = { type: "sqlite", data_file_path: "./data/", max_read_records_count: 10 };
      const files = writeGatewayConfig(mainConfig(platform.port, storage, [{ name: "PLC", type: "opcua", configuration: "opcua.json" }]), { "opcua.json": opcua });
      gw = await startGatewayFrom(from, files.configPath);
    }, 60000);

    // the gateway goes before the platform it sends to
    platform.beforeDispose(() => gw?.stop());

    test("an Int64 of 2^60+1 (and UInt64 max, -(2^53+1)) arrives at the platform unchanged", async () => {
      const tel = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/telemetry" && r.raw.includes('"Big Ints"')), 20000, "Big Ints telemetry");
      // The raw payload, not a parsed one: JSON.parse would round these through a double.
      expect(tel.raw).toContain('"big":1152921504606846977');
      expect(tel.raw).toContain('"neg":-9007199254740993');
      expect(tel.raw).toContain('"small":-100000');
      const attrs = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.raw.includes('"u64"')), 20000, "u64 attribute");
      expect(attrs.raw).toBe('{"Big Ints":{"u64":18446744073709551615}}');
    }, 30000);

    test(`subscriptions are active: value changes arrive well within the ${POLL_MS / 1000} s poll period`, async () => {
      const temperatures = (h: PlatformHarness) => new Set(h.telemetry().filter((r) => r.device === "Multiplier" && r.key === "temperature").map((r) => r.value));
      await platform.harness.waitFor((h) => temperatures(h).size >= 1, 20000, "first temperature");
      const t0 = Date.now();
      // the first value may come from a read; two more distinct ones can only be change notifications
      await platform.harness.waitFor((h) => temperatures(h).size >= 3, 20000, "three distinct temperatures");
      expect(Date.now() - t0).toBeLessThan(POLL_MS / 2);
      expect(gw.output()).not.toMatch(/subscription failed/);
      // (a connection dropped and made again reads every value afresh: none may have happened)
      expect(gw.output()).not.toMatch(/connection to \S+ lost/);
    }, 45000);

    test("an RPC reply with an Int64 product beyond 2^53 is exact", async () => {
      await platform.harness.waitFor((h) => h.received.some((r) => r.topic === "v1/gateway/connect" && r.body.device === "Multiplier"), 20000, "Multiplier connected");
      await platform.harness.sendDeviceRpc("Multiplier", 41, "multiply", [1073741824, 1073741825]);
      const reply = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body?.id === 41 && r.body?.data?.result !== undefined), 15000, "RPC reply");
      // 2^30 × (2^30 + 1) = 2^60 + 2^30
      expect(reply.raw).toContain('"result":1152921505680588800');
    }, 30000);
  });
}
