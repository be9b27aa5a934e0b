// The platform's MQTT port (Mosquitto on the host's 127.0.0.1) made reachable from inside a test
// namespace, for a gateway that runs there (KNX routing: see netns.ts `peerNamespace`). The
// namespace has no link to the host's network, so the bytes go through a unix socket in a host
// folder (unix sockets work across network namespaces): socat on the host from the socket to the
// broker, socat inside the namespace from its own 127.0.0.1:<port> to the socket. No address other
// than loopback is used on either side. Both processes are stopped by their PIDs.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitUntil } from "../../../../test/support/poll.ts";
import { startProcess, type Started } from "../../../../test/support/process.ts";
import type { TestNetns } from "./netns.ts";

export interface PlatformBridge {
  /** Port on 127.0.0.1 inside the namespace that reaches the broker. */
  port: number;
  stop(): Promise<void>;
}

/**
 * Forward `127.0.0.1:<port>` in the peer namespace to `127.0.0.1:<hostPort>` on the host. The
 * namespace is fresh and has nothing else listening, so a fixed port is free there.
 */
export async function bridgeToHost(netns: TestNetns, hostPort: number, port = 1883): Promise<PlatformBridge> {
  const peer = netns.peer;
  if (!peer) throw new Error("bridgeToHost needs a namespace paired with a peer namespace");
  const dir = mkdtempSync(join(tmpdir(), "tbgw-knx-bridge-"));
  const sock = join(dir, "platform.sock");
  const started: Started[] = [];
  try {
    // -d -d: socat says "listening on" once its listening socket is open
    started.push(await startProcess("socat", ["-d", "-d", `UNIX-LISTEN:${sock},fork`, `TCP:127.0.0.1:${hostPort}`], { ready: /listening on/ }));
    await waitUntil(() => existsSync(sock), 10_000, "the bridge's unix socket");
    started.push(await startProcess(...peer.exec("socat", ["-d", "-d", `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `UNIX-CONNECT:${sock}`]), { ready: /listening on/ }));
  } catch (e) {
    for (const p of started.reverse()) await p.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port,
    stop: async () => {
      try {
        for (const p of started.reverse()) await p.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
