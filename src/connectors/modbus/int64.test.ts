// The whole gateway (`tb-gw run`, own process) with a Modbus connector polling the pymodbus peer and
// Mosquitto playing the platform: 64-bit integers beyond 2^53 must reach the platform as exact JSON
// integer literals (upstream sends numbers; a string would turn the key into a text key), in
// telemetry, attributes and an RPC reply.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mainConfig, startGateway, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { startMosquitto, type Broker } from "../../../test/support/mosquitto.ts";
import { startPlatformHarness, type PlatformHarness } from "../../../test/support/platform.ts";
import { freePort } from "../../../test/support/ports.ts";
import type { Started } from "../../../test/support/process.ts";
import { startPeer } from "./test/peer.ts";

let peer: Started | undefined;
let platform: Broker | undefined;
let harness: PlatformHarness | undefined;
let gw: Started | undefined;

const BIG_NEG = -1234567890123456789n;
const U64_MAX = 2n ** 64n - 1n;

beforeAll(async () => {
  const port = await freePort();
  const order = { byteOrder: "BIG", wordOrder: "LITTLE" };
  [peer, platform] = await Promise.all([
    startPeer({
      port,
      encode: [
        { address: 0, type: "64int", value: BIG_NEG, ...order },
        { address: 10, type: "64uint", value: U64_MAX, ...order },
        { address: 20, type: "64int", value: -1234567890123, ...order },
      ],
    }),
    startMosquitto(),
  ]);
  harness = await startPlatformHarness(platform.url);
  const modbus = {
    master: {
      slaves: [{
        deviceName: "Big Regs", host: "127.0.0.1", port, type: "tcp", method: "socket", unitId: 1, pollPeriod: 500, timeout: 2, ...order,
        attributes: [{ tag: "u64", type: "64uint", functionCode: 3, objectsCount: 4, address: 10 }],
        timeseries: [
          { tag: "big", type: "64int", functionCode: 3, objectsCount: 4, address: 0 },
          { tag: "small", type: "64int", functionCode: 3, objectsCount: 4, address: 20 },
        ],
        rpc: [{ tag: "readBig", type: "64int", functionCode: 3, objectsCount: 4, address: 0 }],
      }],
    },
  };
  const storage = { type: "memory", read_records_count: 10, max_records_count: 1000 };
  const files = writeGatewayConfig(mainConfig(platform.port, storage, [{ name: "PLC", type: "modbus", configuration: "modbus.json" }]), { "modbus.json": modbus });
  gw = await startGateway(files.configPath);
}, 60000);

afterAll(async () => {
  try {
    await gw?.stop();
    await harness?.close().catch(() => undefined);
  } finally {
    await Promise.all([platform?.dispose(), peer?.stop()]);
  }
});

test("64int/64uint beyond 2^53 arrive as exact JSON integers, not strings", async () => {
  const tel = await harness!.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/telemetry" && r.raw.includes('"Big Regs"')), 20000, "Big Regs telemetry");
  // The raw payload: JSON.parse would round these through a double.
  expect(tel.raw).toContain(`"big":${BIG_NEG}`);
  expect(tel.raw).toContain('"small":-1234567890123');
  const attrs = await harness!.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.raw.includes('"u64"')), 20000, "u64 attribute");
  expect(attrs.raw).toBe(`{"Big Regs":{"u64":${U64_MAX}}}`);
}, 30000);

test("an RPC read of a 64int beyond 2^53 replies with the exact integer", async () => {
  await harness!.waitFor((h) => h.received.some((r) => r.topic === "v1/gateway/connect" && r.body.device === "Big Regs"), 20000, "Big Regs connected");
  await harness!.sendDeviceRpc("Big Regs", 7, "readBig", null);
  const reply = await harness!.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/rpc" && r.body?.id === 7), 15000, "RPC reply");
  expect(reply.raw).toContain(`"value":${BIG_NEG}`);
}, 30000);
