// The KNX side for tests: Debian's knxd with a dummy bus and a KNXnet/IP tunnelling server on a
// free port (the gateway tunnels to 127.0.0.1:<port>), knxd-tools' knxtool through knxd's unix
// socket to write group values and to watch the bus (vbusmonitor1), and responder.py answering
// GroupValueRead for the addresses a test gives values (a dummy bus has no devices to answer).
// knxd binds its UDP port on every address; all traffic of these tests goes to 127.0.0.1 (the
// gateway's tunnel) or through the unix socket. knxd's server also joins the multicast group
// 224.0.23.12 (always, even with routing off), and as lo has no MULTICAST flag the kernel joins it
// on the default interface: that is one IGMP membership report there, no KNX packet (routing, which
// would send to the group, stays off; checked with /proc/net/igmp; neither `-S group:port:lo` nor
// an ini file's `interface = lo` keeps the join on lo). Every process is stopped by its PID.

import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeUdpPort } from "../../../../test/support/ports.ts";
import { waitUntil } from "../../../../test/support/poll.ts";
import { startProcess } from "../../../../test/support/process.ts";

const RESPONDER = join(import.meta.dir, "responder.py");

export interface BusTelegram {
  kind: "read" | "response" | "write" | "other";
  address: string;
  /** Payload hex (a short value as its one byte). */
  hex: string;
}

export interface Knxd {
  /** The tunnelling server's UDP port on 127.0.0.1. */
  port: number;
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
  until<T>(pick: (t: BusTelegram[]) => T | undefined, what: string, timeoutMs?: number): Promise<T>;
  /** knxtool vbusmonitor1's lines: an independent view of the bus. */
  monitorLines(): string[];
  stop(): Promise<void>;
}

/** `port`: the tunnelling server's UDP port (default: a free one), e.g. to restart on the same one. */
export async function startKnxd(values: Record<string, string> = {}, port?: number): Promise<Knxd> {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-knxd-"));
  const sock = join(dir, "knxd.sock");
  port ??= await freeUdpPort();
  // -e: knxd's own address; -E: addresses for tunnel clients; -u: local socket; -T -S: tunnelling
  // server on <port> (the multicast group is only joined, routing stays off without -R).
  const proc = await startProcess("knxd", ["-e", "0.0.1", "-E", "0.0.2:8", "-u", sock, "-T", "-S", `224.0.23.12:${port}`, "-b", "dummy:"]);
  let responder: ChildProcessWithoutNullStreams | undefined;
  let monitor: ChildProcessWithoutNullStreams | undefined;
  try {
    // knxd says nothing when it is up: wait for its socket instead of a log line.
    await waitUntil(() => existsSync(sock) || proc.proc.exitCode !== null, 10_000, "knxd's unix socket");
    if (!existsSync(sock)) throw new Error(`knxd exited: ${proc.output()}`);
    const url = `local:${sock}`;
    const seen: BusTelegram[] = [];
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
    return {
      port,
      url,
      groupWrite: (address, hex) => tool(["groupwrite", url, address, ...hex.match(/../g)!]),
      groupSmallWrite: (address, value) => tool(["groupswrite", url, address, String(value)]),
      answer: (v) => {
        for (const [address, value] of Object.entries(v)) r.stdin.write(`${address} ${value}\n`);
      },
      burst: (count, address, hex) => void r.stdin.write(`burst ${count} ${address} ${hex}\n`),
      telegrams: () => [...seen],
      until: async (pick, what, timeoutMs = 20_000) => {
        let found: ReturnType<typeof pick>;
        await waitUntil(() => (found = pick(seen)) !== undefined, timeoutMs, what);
        return found!;
      },
      monitorLines: () => [...lines],
      stop: async () => {
        for (const p of [m, r]) if (p.exitCode === null) p.kill("SIGTERM");
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    monitor?.kill("SIGKILL");
    responder?.kill("SIGKILL");
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
