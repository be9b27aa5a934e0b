// Where a running gateway's CPU goes, down to JS functions: `perf record` samples split by thread
// and by kind of code (Bun/JSC native, JIT-compiled JS, kernel, libc), and the JIT samples named
// after the JS function and tier they ran in, from JavaScriptCore's JITDump.
//
// perf names JIT code itself only when it saw the dump file opened (`perf inject --jit`), which a
// `perf record -p` attached after start never does; this reads the dump directly instead.
//
//   node_modules/.bin/bun bench/low-rate.ts --rate 1000 --storage sqlite --binary dist/tb-gw \
//     --gw-env BUN_JSC_useJITDump=1,BUN_JSC_jitDumpDirectory=/tmp/jd &
//   perf record -e cpu-clock -F 4000 -p <gateway pid> -o /tmp/gw.perf -- sleep 20
//   node_modules/.bin/bun bench/perf-js.ts /tmp/gw.perf /tmp/jd/jit-*.dump [--top 30]
//
// Functions show as "<name not materialized>" when JSC had not looked up their name yet; the
// #hash after it tells them apart.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { option } from "./support.ts";

const [perfData, dumpFile] = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
if (!perfData || !dumpFile) {
  console.error("usage: bun bench/perf-js.ts PERF_DATA JIT_DUMP [--top N]");
  process.exit(2);
}
const TOP = Number(option("top", "30"));

interface Code {
  start: bigint;
  end: bigint;
  name: string;
}

/** JIT_CODE_LOAD records of a JITDump file (the jitdump format of the Linux perf tools). */
function readJitDump(path: string): Code[] {
  const b = readFileSync(path);
  const headerSize = b.readUInt32LE(8);
  const codes: Code[] = [];
  for (let at = headerSize; at + 16 <= b.length; ) {
    const id = b.readUInt32LE(at);
    const size = b.readUInt32LE(at + 4);
    if (size === 0) break;
    if (id === 0 /* JIT_CODE_LOAD */) {
      const start = b.readBigUInt64LE(at + 32);
      const length = b.readBigUInt64LE(at + 40);
      const nameAt = at + 56;
      codes.push({ start, end: start + length, name: b.toString("utf8", nameAt, b.indexOf(0, nameAt)) });
    }
    at += size;
  }
  return codes.sort((x, y) => (x.start < y.start ? -1 : 1));
}

function lookUp(codes: Code[], ip: bigint): string | undefined {
  let lo = 0;
  let hi = codes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (codes[mid]!.start <= ip) lo = mid + 1;
    else hi = mid - 1;
  }
  const c = codes[hi];
  return c && ip < c.end ? c.name : undefined;
}

const codes = readJitDump(dumpFile);
const script = spawnSync("perf", ["script", "-i", perfData, "-F", "comm,ip,dso", "-G"], { encoding: "utf8", maxBuffer: 1 << 30 });
if (script.status !== 0) {
  console.error(`perf script failed: ${script.stderr}`);
  process.exit(1);
}

const byPlace = new Map<string, number>();
const byFunction = new Map<string, number>();
let samples = 0;
let jitSamples = 0;
for (const line of script.stdout.split("\n")) {
  // "            gw-A      7f2b9c3bf671 (/tmp/perf-18304.map)"
  const m = /^\s*(.+?)\s+([0-9a-f]+)\s+\((.*)\)\s*$/.exec(line);
  if (!m) continue;
  const [, thread, ip, dso] = m;
  samples++;
  const jit = dso!.includes("/perf-") || dso!.startsWith("[JIT]");
  const kind = jit ? "JIT-compiled JS" : dso!.includes("kernel") ? "kernel" : /lib[a-z]+[.-]/.test(dso!) ? "libraries" : dso === "[unknown]" ? "unknown" : "native (Bun, JSC, sqlite)";
  const place = `${thread}\t${kind}`;
  byPlace.set(place, (byPlace.get(place) ?? 0) + 1);
  if (jit) {
    jitSamples++;
    const name = lookUp(codes, BigInt(`0x${ip}`)) ?? "(not in the dump)";
    byFunction.set(name, (byFunction.get(name) ?? 0) + 1);
  }
}

const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)}%`;
console.log(`${samples} samples, ${jitSamples} in JIT-compiled JS, ${codes.length} pieces of JIT code in the dump\n`);
console.log("thread\twhere\tsamples\tshare");
for (const [place, n] of [...byPlace].sort((x, y) => y[1] - x[1])) console.log(`${place}\t${n}\t${pct(n, samples)}`);
console.log(`\ntop JS functions (share of JIT samples)`);
for (const [name, n] of [...byFunction].sort((x, y) => y[1] - x[1]).slice(0, TOP)) console.log(`${String(n).padStart(6)}  ${pct(n, jitSamples).padStart(6)}  ${name}`);
