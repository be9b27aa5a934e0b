// Per-process figures for benchmarks, read from Linux /proc: shows which process saturates the
// cores (gateway, brokers, peers, load generator).

import { readdirSync, readFileSync } from "node:fs";

const USER_HZ = 100;

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / USER_HZ;
}

/** System (kernel) CPU seconds of the process so far: syscalls, loopback TCP, file writes. */
export function systemCpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[12]) / USER_HZ;
}

/**
 * CPU seconds (user + system) per thread name of the process so far: the JS thread (named after
 * the executable), JITWorker (JavaScriptCore's compiler), mi-scavenger (the allocator returning
 * memory), HeapHelper (GC). Threads that ended are not counted.
 */
export function threadCpuSeconds(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = tid === String(pid) ? "js" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) / USER_HZ;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * Times the thread (default: the main, JS thread) went to sleep and was woken again so far
 * (voluntary context switches). Each costs about 0.1 ms of CPU on a small virtual machine, so at
 * low rates it is a steadier figure than the CPU time, which varies by ±20 % from hour to hour.
 */
export function voluntarySwitches(pid: number, tid = pid): number {
  const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

function statusMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Resident memory now, MB. */
export const rssMb = (pid: number): number => statusMb(pid, "VmRSS");
/** Peak resident memory so far, MB. */
export const peakRssMb = (pid: number): number => statusMb(pid, "VmHWM");

/**
 * For a program running under qemu-user, the part of its RSS (MB) that is the emulator's own and
 * would not exist on the real machine: qemu's malloc heap ([heap]: page tables of the guest,
 * translation-block tables), its translated-code buffer (the one anonymous read-write-execute
 * mapping; qemu-user reserves 128 MiB for it on 64-bit hosts) and the qemu executable's pages.
 * The rest is the guest program's own memory. An estimate read from /proc/<pid>/smaps.
 */
export function emulatorRssMb(pid: number): number {
  let kb = 0;
  let mine = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [, perms, name] = head;
      mine = name === "[heap]" || (perms === "rwxp" && name === "") || /\/qemu-[\w-]+$/.test(name ?? "");
    } else if (mine && line.startsWith("Rss:")) kb += Number(line.split(/\s+/)[1]);
  }
  return kb / 1024;
}

/**
 * Run a connector in this process for `seconds`: start, wait, stop. Returns the elapsed seconds,
 * this process's CPU as % of one core and its peak RSS in MB over the run.
 */
export async function runInProcess(seconds: number, start: () => Promise<void>, stop: () => Promise<void>): Promise<{ elapsed: number; cpuPercent: number; peakRssMb: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await start();
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await stop();
  clearInterval(sampler);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { elapsed, cpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsed) * 100, peakRssMb: peakRss / 1048576 };
}
