// `tb-gw scan modbus <serial-port | host[:port]>`: finds responding unit ids (and on serial the line
// settings), optionally probes register ranges. Only read requests are sent; nothing is written.

import { writeFileSync } from "node:fs";
import chalk from "chalk";
import { Logger, errorText } from "../../observe/logger.ts";
import { readRaw } from "./device.ts";
import { isModbusException, ModbusLink, type LinkOptions } from "./link.ts";

export interface ScanFound {
  unitId: number;
  baudrate?: number;
  parity?: "N" | "E" | "O";
  method: "socket" | "rtu" | "ascii";
  probes?: Array<{ functionCode: number; address: number; ok: boolean; value?: unknown; error?: string }>;
}

function parseList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`bad range "${part}" (use e.g. 1-247 or 1,2,5-9)`);
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) out.push(i);
  }
  return out;
}

function parseProbe(s: string): Array<{ fc: number; from: number; to: number }> {
  return s.split(",").map((p) => {
    const m = /^([1-4]):(\d+)(?:-(\d+))?$/.exec(p.trim());
    if (!m) throw new Error(`bad probe "${p}" (use fc:from-to with fc 1-4, e.g. 3:0-99)`);
    return { fc: Number(m[1]), from: Number(m[2]), to: Number(m[3] ?? m[2]) };
  });
}

function linkOpts(target: string, method: ScanFound["method"], timeoutMs: number, baudrate = 19200, parity: "N" | "E" | "O" = "N"): LinkOptions {
  const serial = target.startsWith("/") || /^COM\d+$/i.test(target);
  const [host, port] = serial ? [undefined, target] : [target.split(":")[0], Number(target.split(":")[1] ?? 502)];
  return {
    type: serial ? "SERIAL" : "TCP", host, port: port!, method, timeoutMs, retries: 0, baudrate, bytesize: 8, parity,
    stopbits: 1, handleLocalEcho: false, connectAttemptTimeMs: 500, connectAttemptCount: 2, waitAfterFailedAttemptsMs: 30000,
    delayBetweenRequestsMs: 0,
  };
}

/** Any answer, even an exception response, means a device with that unit id is there. */
async function responds(link: ModbusLink, unit: number): Promise<boolean> {
  try {
    await readRaw(link, unit, 3, 0, 1);
    return true;
  } catch (e) {
    return isModbusException(e);
  }
}

export async function runScan(target: string, opts: Record<string, string | boolean | undefined>): Promise<number> {
  let units: number[], probes: ReturnType<typeof parseProbe> = [], bauds: number[], parities: Array<"N" | "E" | "O">;
  try {
    units = parseList(String(opts.units ?? "1-247")).filter((u) => u >= 0 && u <= 247);
    bauds = parseList(String(opts.bauds ?? "9600,19200,38400,57600,115200"));
    parities = String(opts.parities ?? "N,E").split(",").map((p) => p.trim().toUpperCase()).filter(Boolean) as Array<"N" | "E" | "O">;
    const bad = parities.find((p) => !["N", "E", "O"].includes(p));
    if (bad !== undefined) throw new Error(`bad parity "${bad}" (use N, E or O, e.g. --parities N,E)`);
    if (typeof opts.probe === "string") probes = parseProbe(opts.probe);
  } catch (e) {
    process.stderr.write(chalk.red(`${errorText(e)}\n`));
    return 2;
  }
  const serial = target.startsWith("/") || /^COM\d+$/i.test(target);
  const framings = (String(opts.framing || (serial ? "rtu" : "socket")).split(",").map((f) => f.trim()) as ScanFound["method"][]);
  const timeoutMs = Number(opts.timeout ?? 200);
  const settings = serial
    ? framings.flatMap((m) => bauds.flatMap((b) => parities.map((p) => ({ method: m, baudrate: b as number | undefined, parity: p as "N" | "E" | "O" | undefined }))))
    : framings.map((m) => ({ method: m, baudrate: undefined, parity: undefined }));
  let aborted = false;
  const onSigint = () => {
    aborted = true;
  };
  process.once("SIGINT", onSigint);
  const log = new Logger("scan");
  log.setLevel("NONE");
  const found: ScanFound[] = [];
  const started = Date.now();
  const total = settings.length * units.length;
  let done = 0;
  try {
    for (const s of settings) {
      if (aborted) break;
      const link = new ModbusLink(linkOpts(target, s.method, timeoutMs, s.baudrate, s.parity), log);
      try {
        await link.ensureConnected();
      } catch (e) {
        process.stderr.write(chalk.red(`cannot open ${target}: ${errorText(e)}\n`));
        return 1;
      }
      try {
        const label = serial ? `${s.baudrate} 8${s.parity}1 ${s.method}` : s.method;
        for (const unit of units) {
          if (aborted) break;
          done++;
          const eta = ((Date.now() - started) / done) * (total - done);
          process.stderr.write(`\r${chalk.cyan("scan")} ${label} unit ${unit} ${bar(done / total)} ${done}/${total} ETA ${(eta / 1000).toFixed(0)}s  `);
          if (!(await responds(link, unit))) continue;
          const f: ScanFound = { unitId: unit, method: s.method, baudrate: s.baudrate, parity: s.parity };
          for (const p of probes) {
            f.probes ??= [];
            for (let a = p.from; a <= p.to && !aborted; a++) {
              try {
                const r = await readRaw(link, unit, p.fc, a, 1);
                f.probes.push({ functionCode: p.fc, address: a, ok: true, value: r.kind === "bits" ? r.bits[0] : r.regs[0] });
              } catch (e) {
                f.probes.push({ functionCode: p.fc, address: a, ok: false, error: errorText(e) });
              }
            }
          }
          found.push(f);
          process.stderr.write(`\n${chalk.green("found")} unit ${unit} (${label})\n`);
        }
      } finally {
        await link.close();
      }
      if (found.length) break; // line settings found: no need to try the others
    }
  } finally {
    process.removeListener("SIGINT", onSigint);
    process.stderr.write(`\n${aborted ? chalk.yellow("stopped") : "done"} in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  }
  if (opts.json) process.stdout.write(`${JSON.stringify({ target, found, aborted }, null, 2)}\n`);
  else for (const f of found) process.stdout.write(`unit ${f.unitId}${f.baudrate ? ` ${f.baudrate} 8${f.parity}1` : ""} ${f.method}${f.probes ? ` ${f.probes.filter((p) => p.ok).length}/${f.probes.length} probes answered` : ""}\n`);
  if (typeof opts.emitConfig === "string") writeFileSync(opts.emitConfig, `${JSON.stringify(skeleton(target, serial, found), null, 2)}\n`);
  return found.length ? 0 : 1;
}

function bar(frac: number): string {
  const n = Math.round(frac * 20);
  return `[${"#".repeat(n)}${".".repeat(20 - n)}]`;
}

export function skeleton(target: string, serial: boolean, found: ScanFound[]): unknown {
  const [host, port] = serial ? [undefined, target] : [target.split(":")[0], Number(target.split(":")[1] ?? 502)];
  return {
    master: {
      slaves: found.map((f) => ({
        deviceName: `Modbus unit ${f.unitId}`, deviceType: "default", type: serial ? "serial" : "tcp",
        ...(host ? { host } : {}), port, method: f.method, unitId: f.unitId,
        ...(serial ? { baudrate: f.baudrate, parity: f.parity, bytesize: 8, stopbits: 1 } : {}),
        byteOrder: "BIG", wordOrder: "BIG", timeout: 1, retries: 1, pollPeriod: 5000,
        timeseries: (f.probes ?? []).filter((p) => p.ok).map((p) => ({
          tag: `fc${p.functionCode}_${p.address}`, type: p.functionCode <= 2 ? "bits" : "16uint", functionCode: p.functionCode, objectsCount: 1, address: p.address,
        })),
        attributes: [], attributeUpdates: [], rpc: [],
      })),
    },
  };
}
