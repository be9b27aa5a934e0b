// The whole gateway (`tb-gw run`, own process; from source and from the compiled binary) with the
// upstream samples modbus.json (TCP master against pymodbus, and its slave server) and
// modbus_serial.json (RTU master over a socat pty against pymodbus' serial server), Mosquitto
// playing the platform: values reach the platform, an attribute update and RPCs reach the devices.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FROM_BOTH, gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { startMosquitto } from "../../../test/support/mosquitto.ts";
import { deviceRpcReply, startPlatformHarness, type PlatformHarness } from "../../../test/support/platform.ts";
import { freePort } from "../../../test/support/ports.ts";
import { startProcess, type Started } from "../../../test/support/process.ts";
import { modbusSample, modbusSerialSample, upstreamMain } from "../../../test/support/upstream.ts";
import { peerWrites, startPeer, startPtyPair, waitForOutput } from "./test/peer.ts";

let tcp: Started;
let rtu: Started;
let pty: Awaited<ReturnType<typeof startPtyPair>>;
let tcpPort: number;

beforeAll(async () => {
  gatewayBinary();
  tcpPort = await freePort();
  // modbus.json: hr 0..3 = temperature, humidity, power, frequency (÷10), coil 1 = relay
  tcp = await startPeer({ port: tcpPort, units: [1], hr: { 0: 215, 1: 405, 2: 1234, 3: 500 }, co: { 1: 1 } });
  // modbus_serial.json: ir 1, 2 = temperature, humidity; ir 3..4 = the "16int" attribute
  pty = await startPtyPair(mkdtempSync(join(tmpdir(), "tbgw-modbus-gw-pty-")));
  rtu = await startPeer({ transport: "serial", framer: "rtu", port: pty.b, baudrate: 9600, units: [1], ir: { 1: 23, 2: 61, 3: 7, 4: 8 } });
}, 240000);

afterAll(async () => {
  await rtu?.stop();
  await pty?.proc.stop();
  await tcp?.stop();
});

for (const from of FROM_BOTH) {
  test(`upstream modbus.json (TCP) and modbus_serial.json (RTU over a pty) in the gateway (${from}): uplink, attribute update, RPC`, async () => {
    const platform = await startMosquitto();
    const harness = await startPlatformHarness(platform.url);
    let gw: Started | undefined;
    try {
      const connectors = [
        { type: "modbus", name: "Modbus TCP", configuration: "modbus.json" },
        { type: "modbus", name: "Modbus RTU", configuration: "modbus_serial.json" },
      ];
      const files = writeGatewayConfig(upstreamMain(platform.port, connectors), {
        "modbus.json": modbusSample(tcpPort, await freePort()),
        "modbus_serial.json": modbusSerialSample(pty.a),
      });
      gw = await startGatewayFrom(from, files.configPath);
      const latest = (h: PlatformHarness, device: string) => Object.fromEntries(h.telemetry().filter((r) => r.device === device).map((r) => [r.key, r.value]));
      await harness.waitFor((h) => Object.keys(latest(h, "Demo Device")).length === 3 && Object.keys(latest(h, "Modbus Temperature Sensor")).length === 2, 20000, "both devices' telemetry");
      expect(latest(harness, "Demo Device")).toEqual({ temperature: 21.5, humidity: 40.5, relay: expect.any(Boolean) });
      expect(latest(harness, "Modbus Temperature Sensor")).toEqual({ temperature: 23, humidity: 61 });
      const attrs = harness.received.filter((r) => r.topic === "v1/gateway/attributes").map((r) => r.body);
      expect(attrs).toContainEqual({ "Demo Device": { power: 123.4, frequency: 50 } });

      // TCP: the sample's attributeUpdates (relay → coil 1) and configured RPC getRelay
      const mark = tcp.output().length;
      await harness.sendAttributeUpdate("Demo Device", { relay: false });
      await waitForOutput(tcp, (o) => peerWrites(o.slice(mark)).length > 0, 10000, "the relay write");
      expect(peerWrites(tcp.output().slice(mark))).toEqual([{ unit: 1, table: "co", address: 1, values: [0] }]);
      await harness.sendDeviceRpc("Demo Device", 11, "getRelay", null);
      expect((await harness.waitFor((h) => deviceRpcReply(h, 11), 10000, "getRelay reply")).body).toEqual({ device: "Demo Device", id: 11, data: { value: false } });

      // RTU: setValue (coil 31) through the serial line
      const rtuMark = rtu.output().length;
      await harness.sendDeviceRpc("Modbus Temperature Sensor", 12, "setValue", true);
      expect((await harness.waitFor((h) => deviceRpcReply(h, 12), 10000, "setValue reply")).body.data).toEqual({ value: true });
      await waitForOutput(rtu, (o) => peerWrites(o.slice(rtuMark)).length > 0, 10000, "the serial write");
      expect(peerWrites(rtu.output().slice(rtuMark))).toEqual([{ unit: 1, table: "co", address: 31, values: [1] }]);
      expect(gw.proc.exitCode).toBeNull();
    } finally {
      await gw?.stop();
      await harness.close().catch(() => undefined);
      await platform.dispose();
    }
  }, 60000);
}

// Slave mode over TCP (slave-tcp.ts, our MBAP server) through the compiled binary: the upstream
// modbus.json with its slave section switched on (sendDataToThingsBoard: true; ports moved to free
// ones). pymodbus, as an external master, reads the sample's 16int "smm" (decoded with pymodbus'
// own little-endian decoder) and writes 4321 encoded by pymodbus' builder; the gateway's poll of
// its own server brings both values to the platform.
test("upstream modbus.json slave section served over TCP by the binary: pymodbus reads and writes it, the platform gets the values", async () => {
  const platform = await startMosquitto();
  const harness = await startPlatformHarness(platform.url);
  let gw: Started | undefined;
  let master: Started | undefined;
  try {
    const slavePort = await freePort();
    const sample = modbusSample(tcpPort, slavePort);
    sample.slave.sendDataToThingsBoard = true;
    const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "modbus", name: "Modbus TCP", configuration: "modbus.json" }]), { "modbus.json": sample });
    gw = await startGatewayFrom("binary", files.configPath);
    const smm = (h: PlatformHarness) => h.telemetry().filter((r) => r.device === "Modbus Slave Example" && r.key === "smm").map((r) => r.value);
    await harness.waitFor((h) => smm(h).includes(12334), 20000, "the slave's initial smm");
    const py = [
      "from pymodbus.client import ModbusTcpClient",
      "from pymodbus.payload import BinaryPayloadBuilder, BinaryPayloadDecoder",
      "from pymodbus.constants import Endian",
      `c = ModbusTcpClient("127.0.0.1", port=${slavePort})`,
      "c.connect()",
      "r = c.read_holding_registers(2, 1, slave=1)",
      "print('READ', BinaryPayloadDecoder.fromRegisters(r.registers, byteorder=Endian.Little, wordorder=Endian.Little).decode_16bit_int(), flush=True)",
      "b = BinaryPayloadBuilder(byteorder=Endian.Little, wordorder=Endian.Little)",
      "b.add_16bit_int(4321)",
      "print('WRITE', c.write_registers(2, b.to_registers(), slave=1).isError(), flush=True)",
      "print('DONE', flush=True)",
    ].join("\n");
    master = await startProcess("/usr/bin/python3", ["-c", py], { ready: /DONE|Error|Traceback/, timeoutMs: 20000 });
    expect(master.output()).toContain("READ 12334");
    expect(master.output()).toContain("WRITE False");
    await harness.waitFor((h) => smm(h).includes(4321), 20000, "the written smm at the platform");
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    await master?.stop();
    await gw?.stop();
    await harness.close().catch(() => undefined);
    await platform.dispose();
  }
}, 90000);
