// The machines tb-gw is built for, and how to run a binary of one of them on this machine: natively
// when the target is the host's, under qemu-user when it is not (an arm64 binary on an x64 build
// or CI machine). Used by build.ts (smoke run after each build), the tests and the benchmarks.

import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { odbcAddonPath } from "./odbc-addon.ts";

export type TargetName = "linux-x64" | "linux-arm64";

export interface Target {
  name: TargetName;
  bun: Bun.Build.CompileTarget;
  /** ELF e_machine of the executable (62 x86-64, 183 AArch64): checked after each build. */
  elfMachine: number;
  /** `uname -m` values of machines that run it (install.sh picks by these). */
  unameM: string[];
  /**
   * Native addons (.node files) the binary embeds, built for this target; each is checked to be an
   * ELF of the target's machine before building, so an x64 addon never ends up in an arm64 binary.
   * The ODBC connector's binding (build/odbc-addon.ts builds it, build.ts embeds it): compiled on
   * the build machine, cross-compiled for the other target when Debian's cross toolchain and that
   * architecture's unixodbc-dev are installed; without them that target is built without ODBC.
   */
  nativeAddons: string[];
}

export const TARGETS: Record<TargetName, Target> = {
  "linux-x64": { name: "linux-x64", bun: "bun-linux-x64", elfMachine: 62, unameM: ["x86_64", "amd64"], nativeAddons: [odbcAddonPath("linux-x64", ".")] },
  "linux-arm64": { name: "linux-arm64", bun: "bun-linux-arm64", elfMachine: 183, unameM: ["aarch64", "arm64"], nativeAddons: [odbcAddonPath("linux-arm64", ".")] },
};

export const isTargetName = (s: string): s is TargetName => Object.hasOwn(TARGETS, s);

/** The target this machine runs natively, undefined when tb-gw is not built for it. */
export function hostTarget(): TargetName | undefined {
  const name = `${process.platform}-${process.arch}`;
  return isTargetName(name) ? name : undefined;
}

/** Where build.ts writes a target's executable (the host's is also linked as dist/tb-gw). */
export const outfileFor = (t: TargetName, root = "."): string => join(root, "dist", `tb-gw-${t}`);

/** e_machine of an ELF file, undefined when it is not one. */
export function elfMachineOf(path: string): number | undefined {
  const head = Buffer.alloc(20);
  const fd = openSync(path, "r");
  try {
    if (readSync(fd, head, 0, 20, 0) < 20) return undefined;
  } finally {
    closeSync(fd);
  }
  if (head.readUInt32BE(0) !== 0x7f454c46) return undefined; // \x7fELF
  return head[5] === 1 ? head.readUInt16LE(18) : head.readUInt16BE(18);
}

/** The target an executable was built for, read from its ELF header. */
export function targetOfFile(path: string): TargetName | undefined {
  const m = elfMachineOf(path);
  return Object.values(TARGETS).find((t) => t.elfMachine === m)?.name;
}

/** How binaries of a target run here: `prefix` goes before the binary's path (empty when native). */
export type Runner = { prefix: string[]; emulated: boolean } | { prefix?: undefined; reason: string };

const QEMU: Partial<Record<TargetName, string>> = { "linux-arm64": "aarch64", "linux-x64": "x86_64" };
/**
 * The CPU qemu emulates: its default ("max") has every extension of the latest Arm cores, so an
 * instruction a Pi 4 lacks would go unnoticed. cortex-a72 is the Pi 4's core (ARMv8.0-A, as the
 * Pi 3's A53; the Pi 5's A76 is a superset). qemu's model still has the crypto extension, which
 * the Pi 4's BCM2711 does not: code that checks the CPU's features before using it is covered,
 * code that uses AES instructions blindly is not.
 */
const QEMU_CPU: Partial<Record<TargetName, string>> = { "linux-arm64": "cortex-a72" };
/** Where Debian puts the target's dynamic loader: multiarch libc6:<arch> in /, or the cross libc. */
const LOADERS: Partial<Record<TargetName, Array<[string, string]>>> = {
  "linux-arm64": [["/lib/ld-linux-aarch64.so.1", "/"], ["/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1", "/usr/aarch64-linux-gnu"]],
  "linux-x64": [["/lib64/ld-linux-x86-64.so.2", "/"], ["/usr/x86_64-linux-gnu/lib64/ld-linux-x86-64.so.2", "/usr/x86_64-linux-gnu"]],
};

function onPath(cmd: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() || undefined : undefined;
}

const runners = new Map<TargetName, Runner>();

/**
 * How to run a binary of `target` here. A foreign target runs under Debian's qemu-user-static
 * (emulating a Pi 4's CPU for arm64), called directly (binfmt_misc is often not mounted in containers, and calling qemu needs no
 * system-wide registration), with the target's C library from `libc6:<arch>` (multiarch) or the
 * cross toolchain's copy under /usr/<triplet>.
 */
export function runnerFor(target: TargetName): Runner {
  const known = runners.get(target);
  if (known) return known;
  let r: Runner;
  if (hostTarget() === target) r = { prefix: [], emulated: false };
  else {
    const arch = QEMU[target];
    const qemu = arch && (onPath(`qemu-${arch}-static`) ?? onPath(`qemu-${arch}`));
    const root = LOADERS[target]?.find(([loader]) => existsSync(loader))?.[1];
    const debArch = target === "linux-arm64" ? "arm64" : "amd64";
    if (!qemu) r = { reason: `no qemu-${arch ?? "?"}-static to run ${target} binaries on this ${hostTarget() ?? process.arch} machine (apt-get install qemu-user-static)` };
    else if (!root) r = { reason: `qemu is here but not the ${target} C library (dpkg --add-architecture ${debArch} && apt-get update && apt-get install libc6:${debArch})` };
    else r = { prefix: [qemu, ...(QEMU_CPU[target] ? ["-cpu", QEMU_CPU[target]!] : []), ...(root === "/" ? [] : ["-L", root])], emulated: true };
  }
  runners.set(target, r);
  return r;
}

/** argv that runs `binary` with `args` here, emulated when the binary is for another machine. */
export function commandFor(binary: string, args: string[]): [string, string[]] {
  const target = targetOfFile(binary);
  const runner = target ? runnerFor(target) : { prefix: [] };
  if (!runner.prefix) throw new Error(`cannot run ${binary} here: ${"reason" in runner ? runner.reason : ""}`);
  const argv = [...runner.prefix, binary, ...args];
  return [argv[0]!, argv.slice(1)];
}
