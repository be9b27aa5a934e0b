// The compiled gateway with the upstream modbus_serial.json (9600 baud 8N1) over our paced line
// (test/paced_line.py) against pymodbus' serial server. A socat pty hands a whole frame over in one
// read; on the paced line, as on a real wire, the characters of a frame come one at a time, 1.04 ms
// apart at 9600 baud, so tb-gw's RTU framing (framed-port.ts) has to put every answer together from
// single-byte reads, and the device has to do the same with tb-gw's requests. Also checked: tb-gw
// leaves RTU's 3.5-character silence before each request. No speed is asserted here (figures:
// bench/modbus-rtu.ts --paced, bench/paced-line.ts).

import { beforeAll, expect, test } from "bun:test";
import { gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { startMosquitto } from "../../../test/support/mosquitto.ts";
import { deviceRpcReply, startPlatformHarness } from "../../../test/support/platform.ts";
import type { Started } from "../../../test/support/process.ts";
import { modbusSerialSample, upstreamMain } from "../../../test/support/upstream.ts";
import { recordingContext } from "../../../test/support/context.ts";
import { addLogSink, setStderrLogging } from "../../observe/logger.ts";
import { ModbusConnector } from "./connector.ts";
import { ModbusConfigSchema } from "./schema.ts";
import { peerWrites, startPacedLine, startPeer, waitForOutput } from "./test/peer.ts";

setStderrLogging(false);

beforeAll(() => {
  gatewayBinary(); // built once (a minute) outside the test's own time
}, 240000);

test("upstream modbus_serial.json through the compiled binary over a paced 9600-baud line: polls, values, RPC write", async () => {
  const line = await startPacedLine({ baudrate: 9600, bitsPerChar: 10 });
  const started: Started[] = [line.proc];
  const platform = await startMosquitto();
  const harness = await startPlatformHarness(platform.url);
  let gw: Started | undefined;
  try {
    // modbus_serial.json: ir 1, 2 = temperature, humidity; ir 3..4 = the "16int" attribute
    const peer = await startPeer({ transport: "serial", framer: "rtu", port: line.device, baudrate: 9600, units: [1], ir: { 1: 23, 2: 61, 3: 7, 4: 8 } });
    started.push(peer);
    const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "modbus", name: "Modbus RTU", configuration: "modbus_serial.json" }]), {
      "modbus_serial.json": modbusSerialSample(line.line, 500),
    });
    gw = await startGatewayFrom("binary", files.configPath);
    const readings = () => harness.telemetry().filter((r) => r.device === "Modbus Temperature Sensor");
    // Several polls: each answer was put together from characters delivered one by one.
    await harness.waitFor(() => readings().filter((r) => r.key === "temperature").length >= 3, 30000, "three polls' telemetry");
    expect(Object.fromEntries(readings().map((r) => [r.key, r.value]))).toEqual({ temperature: 23, humidity: 61 });

    const mark = peer.output().length;
    await harness.sendDeviceRpc("Modbus Temperature Sensor", 21, "setValue", true);
    expect((await harness.waitFor((h) => deviceRpcReply(h, 21), 15000, "setValue reply")).body.data).toEqual({ value: true });
    await waitForOutput(peer, (o) => peerWrites(o.slice(mark)).length > 0, 10000, "the serial write");
    expect(peerWrites(peer.output().slice(mark))).toEqual([{ unit: 1, table: "co", address: 31, values: [1] }]);

    // The exchange really went through the relay's pacing (not around it).
    const wire = await line.stats();
    expect(wire.masterFrames).toBeGreaterThanOrEqual(4);
    expect(wire.deviceFrames).toBeGreaterThanOrEqual(4);
    expect(wire.deviceBytes).toBeGreaterThan(wire.masterFrames * 5);
    expect(wire.requestsSoonerThan3_5Chars).toBe(0);
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    await gw?.stop();
    await harness.close().catch(() => undefined);
    await platform.dispose();
    for (const p of started.reverse()) await p.stop();
  }
}, 90000);

test("three slaves on one paced bus polled back to back: every request waits RTU's 3.5-character silence after the answer before it", async () => {
  // 9600 baud 8N1: a 2-register read is 17 characters (17.7 ms) and 3.5 characters are 3.6 ms;
  // three slaves every 20 ms keep the bus busy, so each request is ready the moment an answer ends.
  const line = await startPacedLine({ baudrate: 9600, bitsPerChar: 10 });
  const started: Started[] = [line.proc];
  const ctx = recordingContext({ type: "modbus" });
  const conn = new ModbusConnector(
    ModbusConfigSchema.parse({
      master: {
        slaves: [1, 2, 3].map((unitId) => ({
          deviceName: `bus-${unitId}`, type: "serial", port: line.line, method: "rtu", unitId, baudrate: 9600, parity: "N", stopbits: 1,
          pollPeriod: 20, timeout: 1, retries: 0, byteOrder: "BIG", wordOrder: "BIG",
          timeseries: [{ tag: "v", type: "32uint", functionCode: 3, objectsCount: 2, address: 0 }],
        })),
      },
    }),
    ctx,
  );
  try {
    started.push(await startPeer({ transport: "serial", framer: "rtu", port: line.device, baudrate: 9600, units: [1, 2, 3], hr: { 0: 1, 1: 2 } }));
    await conn.start();
    line.resetStats();
    await ctx.waitFor((s) => new Set(s.slice(-30).map((d) => d.deviceName)).size === 3 && s.length >= 40, 30000, "40 polls of the three slaves");
    const wire = await line.stats();
    expect(ctx.sent.at(-1)!.telemetry![0]!.values).toEqual({ v: 65538 });
    expect(wire.masterTurnaround?.n ?? 0).toBeGreaterThanOrEqual(20);
    // Not a timing bound that load can break: the gateway counts the silence from when it got the
    // answer's last character, which is never before the line delivered it.
    expect(wire.requestsSoonerThan3_5Chars).toBe(0);
  } finally {
    await conn.stop();
    for (const p of started.reverse()) await p.stop();
  }
}, 60000);

test("an adapter that echoes what the gateway sends (handleLocalEcho): the echo is skipped, every answer still read", async () => {
  const line = await startPacedLine({ baudrate: 19200, bitsPerChar: 10, echo: true });
  const started: Started[] = [line.proc];
  const ctx = recordingContext({ type: "modbus" });
  const conn = new ModbusConnector(
    ModbusConfigSchema.parse({
      master: {
        slaves: [1, 2].map((unitId) => ({
          deviceName: `echo-${unitId}`, type: "serial", port: line.line, method: "rtu", unitId, baudrate: 19200, parity: "N", stopbits: 1,
          handleLocalEcho: true, pollPeriod: 50, timeout: 1, retries: 0, byteOrder: "BIG", wordOrder: "BIG",
          timeseries: [{ tag: "v", type: "16uint", functionCode: 3, objectsCount: 1, address: 0 }, { tag: "w", type: "16uint", functionCode: 4, objectsCount: 1, address: 5 }],
        })),
      },
    }),
    ctx,
  );
  try {
    started.push(await startPeer({ transport: "serial", framer: "rtu", port: line.device, baudrate: 19200, units: [1, 2], hr: { 0: 4321 }, ir: { 5: 77 } }));
    await conn.start();
    await ctx.waitFor((s) => s.filter((d) => d.deviceName === "echo-2").length >= 10, 30000, "ten polls of the second slave");
    for (const d of ctx.sent) expect(d.telemetry![0]!.values).toEqual({ v: 4321, w: 77 });
  } finally {
    await conn.stop();
    for (const p of started.reverse()) await p.stop();
  }
}, 60000);

test("a Modbus exception answer (5 bytes, the shortest) is read as one on a paced line; the slave's other keys keep coming", async () => {
  // The reader is first woken when 5 bytes are in, exactly an exception's length: it must not wait for more.
  const line = await startPacedLine({ baudrate: 19200, bitsPerChar: 10 });
  const started: Started[] = [line.proc];
  const ctx = recordingContext({ type: "modbus" });
  const errors: string[] = [];
  const removeSink = addLogSink((r) => r.level === "ERROR" && errors.push(r.message));
  const conn = new ModbusConnector(
    ModbusConfigSchema.parse({
      master: {
        slaves: [{
          deviceName: "partial", type: "serial", port: line.line, method: "rtu", unitId: 1, baudrate: 19200, parity: "N", stopbits: 1,
          pollPeriod: 100, timeout: 1, retries: 0, byteOrder: "BIG",
          timeseries: [
            { tag: "good", type: "16int", functionCode: 4, objectsCount: 1, address: 5 },
            { tag: "bad", type: "16int", functionCode: 4, objectsCount: 1, address: 20000 },
          ],
        }],
      },
    }),
    ctx,
  );
  try {
    started.push(await startPeer({ transport: "serial", framer: "rtu", port: line.device, baudrate: 19200, units: [1], ir: { 5: 77 } }));
    await conn.start();
    await ctx.waitFor((s) => s.length >= 3, 15000, "three polls");
    for (const d of ctx.sent) expect(d.telemetry![0]!.values).toEqual({ good: 77 });
    // The device's answer was read as an exception (not left waiting for more bytes until a timeout).
    expect(errors.some((e) => /bad/.test(e) && /exception|illegal/i.test(e))).toBe(true);
    expect(errors.some((e) => /timed out/i.test(e))).toBe(false);
  } finally {
    removeSink();
    await conn.stop();
    for (const p of started.reverse()) await p.stop();
  }
}, 60000);
