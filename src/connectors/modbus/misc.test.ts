// Upstream sample configs load unchanged; slave mode served to an independent client (pymodbus);
// a slave that stops answering mid-run does not hold up another slave on its own link.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { recordingContext } from "../../../test/support/context.ts";
import { freePort, freeUdpPort } from "../../../test/support/ports.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import { startProcess, type Started } from "../../../test/support/process.ts";
import { addLogSink, setStderrLogging, type LogRecord } from "../../observe/logger.ts";
import { ModbusConnector } from "./connector.ts";
import { ModbusConfigSchema } from "./schema.ts";
import { startPeer } from "./test/peer.ts";
import { SAMPLES } from "../../../test/support/paths.ts";

setStderrLogging(false);
const REF = SAMPLES;

describe("modbus config", () => {
  for (const f of ["modbus.json", "modbus_serial.json"])
    test(`${f} loads unchanged`, () => {
      const r = ModbusConfigSchema.safeParse(JSON.parse(readFileSync(`${REF}/${f}`, "utf-8")));
      expect(r.error?.issues ?? []).toEqual([]);
      expect(r.data!.master.slaves.length).toBeGreaterThan(0);
    });

  test("legacy sendDataOnlyOnChange: true means an ON_CHANGE device strategy", async () => {
    const port = await freePort();
    const peer = await startPeer({ port, hr: { 0: 5 } });
    const ctx = recordingContext({ type: "modbus" });
    const slave = (name: string, extra: object) => ({
      deviceName: name, host: "127.0.0.1", port, unitId: 1, pollPeriod: 100, timeout: 1,
      timeseries: [{ tag: "v", type: "16int", functionCode: 3, address: 0 }], ...extra,
    });
    const conn = new ModbusConnector(ModbusConfigSchema.parse({ master: { slaves: [
      slave("legacy", { sendDataOnlyOnChange: true }),
      slave("explicit", { sendDataOnlyOnChange: true, reportStrategy: { type: "ON_RECEIVED" } }),
      slave("plain", { sendDataOnlyOnChange: false }),
    ] } }), ctx);
    try {
      await conn.start();
      await ctx.waitFor((s) => ["legacy", "explicit", "plain"].every((n) => s.some((d) => d.deviceName === n)), 5000, "all three");
      const strategy = (n: string) => ctx.sent.find((d) => d.deviceName === n)!.deviceStrategy;
      expect(strategy("legacy")).toEqual({ type: "ON_CHANGE" });
      expect(strategy("explicit")?.type).toBe("ON_RECEIVED");
      expect(strategy("plain")).toBeUndefined();
    } finally {
      await conn.stop();
      await peer.stop();
    }
  }, 15000);

  test("older `server.devices` format is adapted", () => {
    const r = ModbusConfigSchema.parse({
      server: { type: "tcp", host: "127.0.0.1", port: 502, method: "socket", byteOrder: "BIG",
        devices: [{ unitId: 2, deviceName: "old", timeseriesPollPeriod: 700, timeseries: [{ tag: "t", type: "16int", functionCode: 3, address: 0 }] }] },
    });
    expect(r.master.slaves[0]).toMatchObject({ deviceName: "old", host: "127.0.0.1", port: 502, pollPeriod: 700, byteOrder: "BIG", unitId: 2 });
  });
});

describe("modbus slave mode", () => {
  test("serves configured values to pymodbus and reports its writes", async () => {
    const port = await freePort();
    const ctx = recordingContext({ type: "modbus" });
    const conn = new ModbusConnector(ModbusConfigSchema.parse({
      slave: {
        type: "tcp", host: "127.0.0.1", port, unitId: 1, deviceName: "gw-slave", pollPeriod: 100, sendDataToThingsBoard: true,
        byteOrder: "BIG", wordOrder: "BIG", identity: { vendorName: "ACME", productCode: "TB-1", productName: "Gateway" },
        values: { holding_registers: { timeseries: [{ tag: "hr0", type: "16int", address: 0, objectsCount: 1, value: 1234 }] } },
      },
    }), ctx);
    let client: Started | undefined;
    try {
      await conn.start();
      await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.hr0 === 1234), 5000, "initial value");
      const py = `from pymodbus.client import ModbusTcpClient\nc=ModbusTcpClient("127.0.0.1",port=${port})\nc.connect()\nprint("READ",c.read_holding_registers(0,1,slave=1).registers[0],flush=True)\nc.write_register(0,4321,slave=1)\nfrom pymodbus.mei_message import ReadDeviceInformationRequest as R\nr=c.execute(R(read_code=3,object_id=0,unit=1))\nprint("IDENT",{k:v.decode() for k,v in r.information.items()},flush=True)\nprint("WROTE",flush=True)\n`;
      client = await startProcess("/usr/bin/python3", ["-c", py], { ready: /WROTE|Error|Traceback/, timeoutMs: 15000 });
      expect(client.output()).toContain("READ 1234");
      expect(client.output()).toContain(`IDENT {0: 'ACME', 1: 'TB-1', 2: '', 4: 'Gateway'}`);
      await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.hr0 === 4321), 5000, "value written by the client");
    } finally {
      await client?.stop();
      await conn.stop();
    }
  }, 20000);
});

describe("modbus slave mode over UDP", () => {
  test("serves configured values to a pymodbus UDP client and reports its writes", async () => {
    const port = await freeUdpPort();
    const ctx = recordingContext({ type: "modbus" });
    const conn = new ModbusConnector(ModbusConfigSchema.parse({
      slave: {
        type: "udp", host: "127.0.0.1", port, unitId: 1, deviceName: "gw-udp-slave", pollPeriod: 100, sendDataToThingsBoard: true,
        byteOrder: "BIG", wordOrder: "BIG",
        values: { holding_registers: { timeseries: [{ tag: "t", type: "32int", address: 4, objectsCount: 2, value: -70000 }] } },
      },
    }), ctx);
    let client: Started | undefined;
    try {
      await conn.start();
      await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.t === -70000), 5000, "initial value");
      const py = `from pymodbus.client import ModbusUdpClient\nc=ModbusUdpClient("127.0.0.1",port=${port},timeout=2)\nc.connect()\nprint("READ",c.read_holding_registers(4,2,slave=1).registers,flush=True)\nc.write_registers(4,[0,5],slave=1)\nprint("WROTE",flush=True)\n`;
      client = await startProcess("/usr/bin/python3", ["-c", py], { ready: /WROTE|Error|Traceback/, timeoutMs: 15000 });
      expect(client.output()).toContain("READ [65534, 61072]");
      await ctx.waitFor((s) => s.some((d) => d.telemetry?.[0]?.values.t === 5), 5000, "value written by the client");
    } finally {
      await client?.stop();
      await conn.stop();
    }
  }, 20000);
});

describe("modbus reliability", () => {
  test("a slave that stops answering does not stall another slave's polling", async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const a = await startPeer({ port: p1, hr: { 0: 11 } });
    const b = await startPeer({ port: p2, hr: { 0: 22 } });
    const ctx = recordingContext({ type: "modbus" });
    const slave = (name: string, port: number) => ({
      deviceName: name, host: "127.0.0.1", port, unitId: 1, method: "socket", pollPeriod: 100, timeout: 0.3, retries: 1, byteOrder: "BIG",
      timeseries: [{ tag: "v", type: "16int", functionCode: 3, address: 0 }],
    });
    const conn = new ModbusConnector(ModbusConfigSchema.parse({ master: { slaves: [slave("A", p1), slave("B", p2)] } }), ctx);
    try {
      await conn.start();
      await ctx.waitFor((s) => s.some((d) => d.deviceName === "A") && s.some((d) => d.deviceName === "B"), 5000, "both");
      a.proc.kill("SIGSTOP"); // A hangs: connected but silent
      const mark = ctx.sent.length;
      const t0 = Date.now();
      await ctx.waitFor((s) => s.slice(mark).filter((d) => d.deviceName === "B").length >= 10, 5000, "B keeps its pace");
      expect(Date.now() - t0).toBeLessThan(2500);
      a.proc.kill("SIGCONT");
    } finally {
      a.proc.kill("SIGCONT");
      await conn.stop();
      await a.stop();
      await b.stop();
    }
  }, 20000);
});

describe("modbus reliability at scale", () => {
  // Issue #19: one dead slave among 100 (each on its own connection) costs the others nothing: its
  // reads time out while theirs keep their grid. The dead slave is a pymodbus peer stopped with
  // SIGSTOP: the kernel still accepts the connection, but no answer ever comes.
  test("one silent slave among 100: the other 99 keep their poll grid while it times out", async () => {
    const [livePort, deadPort] = [await freePort(), await freePort()];
    const hosts = Array.from({ length: 99 }, (_, i) => `127.0.0.${i + 1}`);
    const live = await startPeer({ port: livePort, hosts, hr: { 0: 7 } });
    const dead = await startPeer({ port: deadPort, hr: { 0: 9 } });
    dead.proc.kill("SIGSTOP");
    const ctx = recordingContext({ type: "modbus" });
    const PERIOD = 500;
    const slave = (name: string, host: string, port: number) => ({
      deviceName: name, host, port, unitId: 1, method: "socket", pollPeriod: PERIOD, timeout: 1, retries: 0, byteOrder: "BIG",
      timeseries: [{ tag: "v", type: "16int", functionCode: 3, address: 0 }],
    });
    const slaves = [...hosts.map((h, i) => slave(`live-${i}`, h, livePort)), slave("dead", "127.0.0.1", deadPort)];
    const conn = new ModbusConnector(ModbusConfigSchema.parse({ master: { slaves } }), ctx);
    try {
      await conn.start();
      await ctx.waitFor((s) => new Set(s.map((d) => d.deviceName)).size >= 99, 30000, "every live slave once");
      const livePolled = () => conn.polled.filter((p) => p.name !== "dead");
      const polls0 = livePolled().map((p) => p.polls);
      const skipped0 = livePolled().reduce((n, p) => n + p.skipped, 0);
      const t0 = Date.now();
      await Bun.sleep(6 * PERIOD); // the dead slave times out (1 s) more than once in this window
      const elapsed = Date.now() - t0;
      const polls = livePolled().map((p, i) => p.polls - polls0[i]!);
      const skipped = livePolled().reduce((n, p) => n + p.skipped, 0) - skipped0;
      const expected = elapsed / PERIOD;
      // generous for a loaded 2-core CI machine: each live slave at least half its slots, and
      // across all 99 fewer than a quarter of the slots skipped
      expect(Math.min(...polls)).toBeGreaterThanOrEqual(Math.floor(expected / 2));
      expect(skipped).toBeLessThan((99 * expected) / 4);
      expect(ctx.sent.some((d) => d.deviceName === "dead")).toBe(false);
    } finally {
      dead.proc.kill("SIGCONT");
      await conn.stop();
      await live.stop();
      await dead.stop();
    }
  }, 90000);
});

describe("modbus stop", () => {
  // Issue #19: a stop is not a device error. Every slave has a read in flight (the peer is stopped
  // with SIGSTOP: connected, never answering) when the connector stops; none of them may be logged
  // as a failed read (before: one ERROR "... connector stopped" per slave, 100-300 on SIGTERM), and
  // the stop does not wait for their timeouts.
  test("stopping with a read in flight on every slave logs no read errors", async () => {
    const port = await freePort();
    const hosts = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 1}`);
    const peer = await startPeer({ port, hosts, hr: { 0: 1 } });
    peer.proc.kill("SIGSTOP");
    const records: LogRecord[] = [];
    const removeSink = addLogSink((r) => records.push(r));
    const ctx = recordingContext({ type: "modbus" });
    const slaves = hosts.map((host, i) => ({
      deviceName: `s-${i}`, host, port, unitId: 1, method: "socket", pollPeriod: 200, timeout: 30, retries: 0,
      timeseries: [{ tag: "v", type: "16int", functionCode: 3, address: 0 }],
    }));
    const conn = new ModbusConnector(ModbusConfigSchema.parse({ master: { slaves } }), ctx);
    try {
      await conn.start();
      await waitUntil(() => conn.polled.every((p) => p.link.connected && p.pollInFlight), 20000, "every slave connected with a read in flight");
      const t0 = Date.now();
      await conn.stop();
      // at once, not after the reads' 30 s timeout (modbus-serial's client settled them only then)
      expect(Date.now() - t0).toBeLessThan(10000);
      const errors = records.filter((r) => r.level === "ERROR" || r.level === "CRITICAL").map((r) => r.message);
      expect(errors).toEqual([]);
      expect(conn.polled.some((p) => p.pollInFlight)).toBe(false);
    } finally {
      removeSink();
      peer.proc.kill("SIGCONT");
      await conn.stop();
      await peer.stop();
    }
  }, 60000);
});

test("polls keep to their grid: a late poll does not shift later ones; a slot overdue by more than half a period is skipped and counted", async () => {
  const { nextPoll } = await import("./device.ts");
  // on time, a little late, and late by under half a period: the next slot stays on the grid
  expect(nextPoll(1000, 1010, 100)).toEqual({ due: 1100, skipped: 0 });
  expect(nextPoll(1000, 1120, 100)).toEqual({ due: 1100, skipped: 0 });
  expect(nextPoll(1000, 1149, 100)).toEqual({ due: 1100, skipped: 0 });
  // overdue by more than half a period: skipped to the next slot on the grid, and counted
  expect(nextPoll(1000, 1160, 100)).toEqual({ due: 1200, skipped: 1 });
  expect(nextPoll(1000, 1440, 100)).toEqual({ due: 1400, skipped: 3 });
  expect(nextPoll(1000, 1475, 100)).toEqual({ due: 1500, skipped: 4 });
  // lateness does not add up: 100 polls each started 40 ms late end on the planned grid
  let due = 0;
  for (let i = 0; i < 100; i++) due = nextPoll(due, due + 40, 100).due;
  expect(due).toBe(10_000);
});

test("first polls are spread over the period (at most 1 s) in 5 shared slots, so slaves in a slot share a wake-up", async () => {
  const { firstPoll } = await import("./device.ts");
  for (const [period, slot] of [[1000, 200], [5000, 200], [100, 20], [10, 2]] as const) {
    const now = 1_000_003;
    const firsts = Array.from({ length: 2000 }, () => firstPoll(now, period));
    const distinct = new Set(firsts);
    expect(distinct.size).toBe(Math.min(5, period));
    for (const t of distinct) {
      expect(t % slot).toBe(0);
      expect(t).toBeGreaterThanOrEqual(now);
      expect(t).toBeLessThan(now + Math.min(period, 1000) + slot);
    }
  }
});
