// `tb-gw scan modbus` over our serial line simulator (test/line_sim.py) with the pymodbus peer behind
// it: the line passes bytes only at its own baud rate/parity/stop bits, so scan has to find them.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startProcess, type Started } from "../../../test/support/process.ts";
import { startLine, startPeer } from "./test/peer.ts";

const CLI = join(import.meta.dir, "../../../cli/main.ts");

interface Found {
  unitId: number;
  baudrate?: number;
  parity?: string;
  method: string;
}

async function scanOverLine(line: { baudrate: number; parity: "N" | "E" | "O" }, units: number[], args: string[]): Promise<{ found: Found[]; settingsSeen: string }> {
  const started: Started[] = [];
  try {
    const sim = await startLine(line);
    started.push(sim.proc);
    // The peer opens its pty 8N1 at the line's baud: pyserial cannot open a pty with parity on
    // (see line_sim.py); the simulator checks its baud rate and stop bits.
    started.push(await startPeer({ transport: "serial", framer: "rtu", port: sim.device, baudrate: line.baudrate, parity: "N", units }));
    const scan = await startProcess(process.execPath, [CLI, "scan", "modbus", sim.line, "--units", "1-8", "--timeout", "150", "--json", ...args], {
      ready: /"aborted": (true|false)/,
      timeoutMs: 25000,
    });
    started.push(scan);
    await new Promise((r) => (scan.proc.exitCode !== null ? r(null) : scan.proc.once("exit", r)));
    const out = scan.output();
    const json = JSON.parse(out.slice(out.indexOf('{\n  "target"'), out.lastIndexOf("}") + 1));
    return { found: json.found, settingsSeen: sim.proc.output() };
  } finally {
    for (const p of started.reverse()) await p.stop();
  }
}

describe("scan modbus over a serial line simulator (pymodbus peer behind it)", () => {
  test("finds 19200 8E1 and the unit ids after trying other bauds and parities", async () => {
    const { found, settingsSeen } = await scanOverLine({ baudrate: 19200, parity: "E" }, [3, 6], ["--bauds", "9600,19200,38400", "--parities", "N,O,E"]);
    expect(found).toEqual([
      { unitId: 3, method: "rtu", baudrate: 19200, parity: "E" },
      { unitId: 6, method: "rtu", baudrate: 19200, parity: "E" },
    ]);
    // The settings before the right one really reached the line and were refused there.
    for (const s of ["9600 8N1", "9600 8E1", "19200 8N1", "19200 8O1"]) expect(settingsSeen).toContain(`SETTINGS ${s} device 19200 mismatch`);
    expect(settingsSeen).toContain("SETTINGS 19200 8E1 device 19200 match");
  }, 30000);

  test("finds 9600 8N1 when faster and even-parity settings are tried first", async () => {
    const { found, settingsSeen } = await scanOverLine({ baudrate: 9600, parity: "N" }, [2], ["--bauds", "19200,9600", "--parities", "E,N"]);
    expect(found).toEqual([{ unitId: 2, method: "rtu", baudrate: 9600, parity: "N" }]);
    expect(settingsSeen).toContain("SETTINGS 9600 8E1 device 9600 mismatch");
  }, 30000);
});
