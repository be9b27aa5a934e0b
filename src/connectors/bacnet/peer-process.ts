// Test helper: start test-peer.ts as a separate process on a free loopback port and wait for its
// ready line. The gateway side of a test binds 127.0.0.1, the peer 127.0.0.2.
import { join } from "node:path";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { startProcess, type Started } from "../../../test/support/process.ts";

export const PEER_HOST = "127.0.0.2";
const bun = join(import.meta.dir, "../../../node_modules/.bin/bun");

/**
 * `opts.port`: reuse a port (a device coming back); `opts.whoIs`: probe that address at start;
 * `opts.host`: a loopback address other than 127.0.0.2; `opts.broadcastListen`: also receive what is
 * broadcast to that address (e.g. 127.255.255.255) on the peer's port.
 */
export async function startPeer(
  deviceId = 1234,
  extraObjects = 0,
  opts: { port?: number; whoIs?: string; host?: string; broadcastListen?: string } = {},
): Promise<Started & { port: number; address: string }> {
  const host = opts.host ?? PEER_HOST;
  const port = opts.port ?? (await freeUdpPort(host));
  const extra = [...(opts.whoIs ? ["--who-is", opts.whoIs] : []), ...(opts.broadcastListen ? ["--broadcast-listen", opts.broadcastListen] : [])];
  const p = await startProcess(bun, [join(import.meta.dir, "test-peer.ts"), "--host", host, "--port", String(port), "--device-id", String(deviceId), "--extra-objects", String(extraObjects), ...extra], {
    ready: /bacnet test peer ready/,
    timeoutMs: 15000,
  });
  return Object.assign(p, { port, address: `${host}:${port}` });
}

/** Resolves when the peer's output matches `re` (checked on every output chunk). */
export function waitOutput(p: Started, re: RegExp, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!re.test(p.output())) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`peer output did not match ${re} within ${timeoutMs} ms:\n${p.output()}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      p.proc.stdout!.off("data", check);
    };
    p.proc.stdout!.on("data", check);
    check();
  });
}
