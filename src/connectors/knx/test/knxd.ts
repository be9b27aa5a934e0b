// The KNX side for tests: Debian's knxd with a dummy bus and a KNXnet/IP tunnelling server, run in
// a network namespace of the test's own (see netns.ts: knxd always joins the multicast group
// 224.0.23.12, which in the host's namespace would be joined on eth0); the gateway tunnels to the
// namespace's address over a veth pair. knxd-tools' knxtool writes group values and watches the bus
// (vbusmonitor1) and responder.py answers GroupValueRead for the addresses a test gives values (a
// dummy bus has no devices to answer): both stay on the host and reach knxd through its unix socket
// in a host folder, which works across network namespaces. Every process is stopped by its PID.

import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitUntil } from "../../../../test/support/poll.ts";
import { startProcess, type Started } from "../../../../test/support/process.ts";
import { createTestNetns, hostDevicesInGroup, KNX_GROUP_IGMP, type TestNetns } from "./netns.ts";

const RESPONDER = join(import.meta.dir, "responder.py");

/** Group address of settled()'s marker writes: no test or sample uses it. */
const MARKER = "31/7/255";

export interface BusTelegram {
  kind: "read" | "response" | "write" | "other";
  address: string;
  /** Payload hex (a short value as its one byte). */
  hex: string;
}

export interface Knxd {
  /** The tunnelling server's address (in the test's namespace) and UDP port. */
  host: string;
  port: number;
  netns: TestNetns;
  /** Devices in the KNX multicast group: inside knxd's namespace, in the host's (must be none), and in the peer namespace when there is one. */
  groupMembers(): { netns: string[]; host: string[]; peer?: string[] };
  /** knxd's unix socket, as knxtool's URL (`local:/path`). */
  url: string;
  /** GroupValueWrite of bytes (hex) from a knxtool client. */
  groupWrite(address: string, hex: string): void;
  /** GroupValueWrite of a short (≤ 6 bit) value, e.g. DPT 1. */
  groupSmallWrite(address: string, value: number): void;
  /** Answer GroupValueRead of these addresses ("small:1" for a short value). Replaces nothing else. */
  answer(values: Record<string, string>): void;
  /** Send `count` GroupValueWrite telegrams of `hex` to `address` as fast as knxd takes them. */
  burst(count: number, address: string, hex: string): void;
  /** Group telegrams seen by the responder (it sees every one on the bus), in order. */
  telegrams(): BusTelegram[];
  /**
   * Resolves once telegrams() holds everything put on the bus before the call. A value that
   * reached the gateway can arrive before the responder's line about the read that fetched it (two
   * processes, two pipes); a write to a marker address nobody uses goes over the bus after them,
   * and the responder reports the bus in order. Marker telegrams are not in telegrams().
   */
  settled(): Promise<void>;
  until<T>(pick: (t: BusTelegram[]) => T | undefined, what: string, timeoutMs?: number): Promise<T>;
  /** knxtool vbusmonitor1's lines: an independent view of the bus. */
  monitorLines(): string[];
  stop(): Promise<void>;
}

export interface KnxdOptions {
  /** A namespace to run in (kept on stop, e.g. to restart on the same address); default: one of its own. */
  netns?: TestNetns;
  /** Tunnelling server's UDP port (default 3671: the namespace has nothing else). */
  port?: number;
  /**
   * KNXnet/IP routing (-R) instead of tunnelling: knxd sends and takes the bus's telegrams as
   * ROUTING_INDICATIONs to and from 224.0.23.12:<port>. Only in a namespace whose pair ends in a
   * peer namespace (netns.ts `peerNamespace`), never one joined to the host's.
   */
  routing?: boolean;
}

export async function startKnxd(values: Record<string, string> = {}, opts: KnxdOptions = {}): Promise<Knxd> {
  const port = opts.port ?? 3671;
  const netns = opts.netns ?? createTestNetns();
  const ownNetns = !opts.netns;
  if (opts.routing && !netns.peer) throw new Error("knxd routes only in a namespace paired with a peer namespace (createTestNetns({ peerNamespace: true })): its multicast must not reach the host's");
  const dir = mkdtempSync(join(tmpdir(), "tbgw-knxd-"));
  const sock = join(dir, "knxd.sock");
  // -e: knxd's own address; -E: addresses for tunnel clients; -u: local socket; -T -S: tunnelling
  // server on <port> (the multicast group is only joined, routing stays off without -R); -R -S:
  // routing server on the group and port instead (no tunnelling, so a gateway cannot tunnel by mistake).
  const service = opts.routing ? "-R" : "-T";
  let proc: Started | undefined;
  let responder: ChildProcessWithoutNullStreams | undefined;
  let monitor: ChildProcessWithoutNullStreams | undefined;
  try {
    proc = await startProcess(...netns.exec("knxd", ["-e", "0.0.1", "-E", "0.0.2:8", "-u", sock, service, "-S", `224.0.23.12:${port}`, "-b", "dummy:"]));
    const knxd = proc;
    // knxd says nothing when it is up: wait for its socket instead of a log line.
    await waitUntil(() => existsSync(sock) || knxd.proc.exitCode !== null, 10_000, "knxd's unix socket");
    if (!existsSync(sock)) throw new Error(`knxd exited: ${knxd.output()}`);
    // its multicast join is on the namespace's veth end (the route there), not on a host device
    await waitUntil(() => netns.devicesInGroup(KNX_GROUP_IGMP).includes(netns.nsDevice), 10_000, "knxd's multicast join inside its namespace");
    const url = `local:${sock}`;
    const seen: BusTelegram[] = [];
    let markersSeen = 0;
    let markersSent = 0;
    const lines: string[] = [];
    responder = spawn("/usr/bin/python3", ["-u", RESPONDER, sock, JSON.stringify(values)], { stdio: ["pipe", "pipe", "pipe"] });
    let ready = false;
    let err = "";
    let pending = "";
    responder.stderr.on("data", (b: Buffer) => (err += b.toString()));
    responder.stdout.on("data", (b: Buffer) => {
      pending += b.toString();
      const parts = pending.split("\n");
      pending = parts.pop()!;
      for (const line of parts) {
        const [kind, address, hex] = line.trim().split(" ");
        if (kind === "ready") ready = true;
        else if (address === MARKER) markersSeen++;
        else if (kind === "read" || kind === "response" || kind === "write" || kind === "other") seen.push({ kind, address: address!, hex: hex ?? "" });
      }
    });
    await waitUntil(() => ready || responder!.exitCode !== null, 10_000, "KNX responder on knxd's socket");
    if (!ready) throw new Error(`responder.py failed: ${err}`);
    monitor = spawn("knxtool", ["vbusmonitor1", url], { stdio: ["pipe", "pipe", "pipe"] });
    let monPending = "";
    monitor.stdout.on("data", (b: Buffer) => {
      monPending += b.toString();
      const parts = monPending.split("\n");
      monPending = parts.pop()!;
      lines.push(...parts);
    });
    const tool = (args: string[]) => {
      const r = spawnSync("knxtool", args, { encoding: "utf8", timeout: 10_000 });
      if (r.status !== 0) throw new Error(`knxtool ${args.join(" ")} failed: ${r.stderr || r.error?.message || `exit ${r.status}`}`);
    };
    const r = responder;
    const m = monitor;
    const cleanUp = () => {
      rmSync(dir, { recursive: true, force: true });
      if (ownNetns) netns.destroy();
    };
    return {
      host: netns.ip,
      port,
      netns,
      groupMembers: () => ({
        netns: netns.devicesInGroup(KNX_GROUP_IGMP),
        host: hostDevicesInGroup(KNX_GROUP_IGMP),
        ...(netns.peer ? { peer: netns.peer.devicesInGroup(KNX_GROUP_IGMP) } : {}),
      }),
      url,
      groupWrite: (address, hex) => tool(["groupwrite", url, address, ...hex.match(/../g)!]),
      groupSmallWrite: (address, value) => tool(["groupswrite", url, address, String(value)]),
      answer: (v) => {
        for (const [address, value] of Object.entries(v)) r.stdin.write(`${address} ${value}\n`);
      },
      burst: (count, address, hex) => void r.stdin.write(`burst ${count} ${address} ${hex}\n`),
      telegrams: () => [...seen],
      settled: async () => {
        const n = ++markersSent;
        tool(["groupwrite", url, MARKER, "01"]);
        await waitUntil(() => markersSeen >= n, 20_000, "the bus marker back from the responder");
      },
      until: async (pick, what, timeoutMs = 20_000) => {
        let found: ReturnType<typeof pick>;
        await waitUntil(() => (found = pick(seen)) !== undefined, timeoutMs, what);
        return found!;
      },
      monitorLines: () => [...lines],
      stop: async () => {
        for (const p of [m, r]) if (p.exitCode === null) p.kill("SIGTERM");
        try {
          await knxd.stop();
        } finally {
          cleanUp();
        }
      },
    };
  } catch (e) {
    monitor?.kill("SIGKILL");
    responder?.kill("SIGKILL");
    try {
      await proc?.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      if (ownNetns) netns.destroy();
    }
    throw e;
  }
}

export interface SilentPort {
  /** KNXnet/IP CONNECT_REQUESTs that arrived. */
  connectRequests(): number;
  stop(): Promise<void>;
}

/** A UDP socket on the namespace's address and `port` that takes datagrams and answers none: an interface not up yet. */
export async function listenSilently(netns: TestNetns, port: number): Promise<SilentPort> {
  // one line per datagram: its KNXnet/IP service type in hex (0205: CONNECT_REQUEST)
  const script = "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((sys.argv[1],int(sys.argv[2])))\nprint('bound',flush=True)\nwhile True:\n  m=s.recv(2048)\n  print(m[2:4].hex(),flush=True)\n";
  const p = await startProcess(...netns.exec("/usr/bin/python3", ["-u", "-c", script, netns.ip, String(port)]), { ready: /bound/ });
  return {
    connectRequests: () => p.output().split("\n").filter((l) => l.trim() === "0205").length,
    stop: () => p.stop(),
  };
}
