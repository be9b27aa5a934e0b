// Per-process figures for benchmarks, read from Linux /proc: shows which process saturates the
// cores (gateway, brokers, peers, load generator).

import { readFileSync } from "node:fs";

const USER_HZ = 100;

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / USER_HZ;
}

function statusMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Resident memory now, MB. */
export const rssMb = (pid: number): number => statusMb(pid, "VmRSS");
/** Peak resident memory so far, MB. */
export const peakRssMb = (pid: number): number => statusMb(pid, "VmHWM");
