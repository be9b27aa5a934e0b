// A network namespace of the test's own for knxd. knxd's tunnelling server always joins the KNX
// multicast group 224.0.23.12 (even with routing off), and loopback cannot carry multicast, so in
// the host's namespace the kernel joins on eth0 and sends an IGMP report out of it. In a namespace
// made here, with a veth pair to the host and a default route over it, the join (and its report)
// happens on the namespace's veth end and goes no further than the host's end of the pair.
// Addresses are link-local (169.254.0.0/16), a /30 per namespace; names carry the test process's
// PID and a counter so parallel runs do not collide. destroy() removes everything, also after a
// failure half-way through creation.
//
// For KNXnet/IP routing (multicast to 224.0.23.12 both ways) the other end of the pair goes into a
// second namespace of its own (`createTestNetns({ peerNamespace: true })`), where the gateway runs:
// the two namespaces are joined only by the pair, nothing connects them to the host's network, so
// multicast sent and joined there cannot reach a host interface whatever TTL or interface a program
// picks (and no namespace has a multicast router to forward it).

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

/** 224.0.23.12 as /proc/net/igmp prints it (the address's bytes in host order, little-endian here). */
export const KNX_GROUP_IGMP = "0C1700E0";

export interface TestNetns {
  /** Namespace name for `ip netns exec`. */
  name: string;
  /**
   * The other end of the pair's own namespace (`peerNamespace`), where hostDevice and hostIp are;
   * absent: they are in the host's namespace.
   */
  peer?: { name: string; exec(cmd: string, args: string[]): [string, string[]]; devicesInGroup(hexGroup: string): string[] };
  /** The other end of the veth pair (in the host's namespace, or in `peer`'s) and its address. */
  hostDevice: string;
  hostIp: string;
  /** The namespace's end and its address (where servers inside listen). */
  nsDevice: string;
  ip: string;
  /** argv that runs `cmd args` inside the namespace (`ip netns exec` execs it: the PID is cmd's). */
  exec(cmd: string, args: string[]): [string, string[]];
  /** Devices that are members of the IPv4 multicast group `hexGroup` (/proc/net/igmp form), inside the namespace. */
  devicesInGroup(hexGroup: string): string[];
  /** Local `address:port` of the UDP sockets bound to hostIp (e.g. a tunnel's return end), where hostDevice is. */
  hostUdpSockets(): string[];
  destroy(): void;
}

let counter = 0;
/** Namespaces of this process not destroyed yet: removed on exit too (a timed-out test skips its finally). */
const live = new Set<() => void>();
process.on("exit", () => {
  for (const destroy of live) destroy();
});

/**
 * Names (namespace and host veth end) left by test processes that are gone, e.g. killed with
 * SIGKILL. Only names are removed: a process still running inside keeps its namespace alive.
 */
function sweepLeftovers(): void {
  const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8", timeout: 10_000 }).stdout ?? "";
  for (const m of list.matchAll(/^tbgw-knx-(\d+)-(\d+)(-gw)?(?=\s|$)/gm)) {
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    spawnSync("ip", ["netns", "del", m[0]], { timeout: 10_000, stdio: "ignore" });
    if (!m[3]) spawnSync("ip", ["link", "del", `tk${pid}h${m[2]}`], { timeout: 10_000, stdio: "ignore" });
  }
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);

function ip(args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  return r.stdout;
}

/** `ss` in the host's namespace, or in `ns`. */
function ss(args: string[], ns?: string): string {
  const [cmd, argv] = ns ? ["ip", ["netns", "exec", ns, "ss", ...args]] : ["ss", args];
  const r = spawnSync(cmd, argv, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ss ${args.join(" ")} failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  return r.stdout;
}

/** Devices in /proc/net/igmp text that are members of `hexGroup`. */
export function igmpDevicesIn(text: string, hexGroup: string): string[] {
  const devices: string[] = [];
  let device = "";
  for (const line of text.split("\n")) {
    const head = /^\d+\s+(\S+)\s*:/.exec(line);
    if (head) device = head[1]!;
    else if (line.trim().split(/\s+/)[0]?.toUpperCase() === hexGroup && device) devices.push(device);
  }
  return devices;
}

/** Devices of the host's namespace (this process's) that are members of `hexGroup`. */
export function hostDevicesInGroup(hexGroup: string): string[] {
  return igmpDevicesIn(readFileSync("/proc/net/igmp", "utf8"), hexGroup);
}

/** A /30 in 169.254.1.0–169.254.250.255 no host address is in yet, picked from the PID and counter. */
function freeSubnet(n: number): [string, string] {
  const used = new Set([...ip(["-4", "-o", "addr", "show"]).matchAll(/inet (169\.254\.\d+\.\d+)/g)].map((m) => m[1]!));
  const slots = 250 * 64;
  for (let i = 0; i < slots; i++) {
    const k = (process.pid * 61 + n * 7 + i) % slots;
    const third = 1 + Math.floor(k / 64);
    const base = (k % 64) * 4;
    const host = `169.254.${third}.${base + 1}`;
    const ns = `169.254.${third}.${base + 2}`;
    if (!used.has(host) && !used.has(ns)) return [host, ns];
  }
  throw new Error("no free /30 in 169.254.0.0/16 for a test namespace");
}

export interface NetnsOptions {
  /** Put the other end of the pair into a second namespace of its own (`peer`) instead of the host's. */
  peerNamespace?: boolean;
}

export function createTestNetns(opts: NetnsOptions = {}): TestNetns {
  sweepLeftovers();
  const n = counter++ % 1000;
  const name = `tbgw-knx-${process.pid}-${n}`;
  const peerName = opts.peerNamespace ? `${name}-gw` : undefined;
  // `ip` arguments for the other end: in the peer namespace, or the host's
  const at = (args: string[]) => (peerName ? ["-n", peerName, ...args] : args);
  // interface names: at most 15 characters ("tk" + PID ≤ 7 digits + h|n + ≤ 3 digits)
  const hostDevice = `tk${process.pid}h${n}`;
  const nsDevice = `tk${process.pid}n${n}`;
  const [hostIp, nsIp] = freeSubnet(n);
  const destroy = () => {
    live.delete(destroy);
    spawnSync("ip", ["netns", "del", name], { timeout: 10_000, stdio: "ignore" });
    if (peerName) spawnSync("ip", ["netns", "del", peerName], { timeout: 10_000, stdio: "ignore" });
    // the pair goes with the namespace, but only once the kernel has cleaned it up
    else spawnSync("ip", ["link", "del", hostDevice], { timeout: 10_000, stdio: "ignore" });
  };
  live.add(destroy);
  try {
    ip(["netns", "add", name]);
    if (peerName) ip(["netns", "add", peerName]);
    ip(["link", "add", hostDevice, "type", "veth", "peer", "name", nsDevice]);
    ip(["link", "set", nsDevice, "netns", name]);
    if (peerName) {
      ip(["link", "set", hostDevice, "netns", peerName]);
      ip(["-n", peerName, "link", "set", "lo", "up"]);
    }
    ip(at(["addr", "add", `${hostIp}/30`, "dev", hostDevice]));
    ip(at(["link", "set", hostDevice, "up"]));
    ip(["-n", name, "link", "set", "lo", "up"]);
    ip(["-n", name, "addr", "add", `${nsIp}/30`, "dev", nsDevice]);
    ip(["-n", name, "link", "set", nsDevice, "up"]);
    // The route back to whatever host address the client sends from, and the interface for
    // multicast joins (without a route knxd's join fails).
    ip(["-n", name, "route", "add", "default", "via", hostIp]);
    // the peer's way to everything, multicast included, is the pair too
    if (peerName) ip(["-n", peerName, "route", "add", "default", "via", nsIp]);
  } catch (e) {
    destroy();
    throw e;
  }
  const inNs = (ns: string) => (cmd: string, args: string[]): [string, string[]] => ["ip", ["netns", "exec", ns, cmd, ...args]];
  return {
    name,
    peer: peerName ? { name: peerName, exec: inNs(peerName), devicesInGroup: (hexGroup) => igmpDevicesIn(ip(["netns", "exec", peerName, "cat", "/proc/net/igmp"]), hexGroup) } : undefined,
    hostDevice,
    hostIp,
    nsDevice,
    ip: nsIp,
    exec: inNs(name),
    devicesInGroup: (hexGroup) => igmpDevicesIn(ip(["netns", "exec", name, "cat", "/proc/net/igmp"]), hexGroup),
    // ss -H -u: no header; columns state, recv-q, send-q, local, peer
    hostUdpSockets: () =>
      ss(["-Huan", "src", hostIp], peerName)
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[3] ?? "")
        .filter((a) => a.startsWith(`${hostIp}:`)),
    destroy,
  };
}
