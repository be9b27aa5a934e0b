// Start the test peer (peer/server.ts) as a separate bun process on a free loopback port.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../../../test/support/ports.ts";
import { startProcess, type Started } from "../../../../test/support/process.ts";

export interface OpcuaPeer {
  url: string;
  port: number;
  /** The server's PKI folder (its own certificate is own/certs/certificate.pem). */
  pki: string;
  proc: Started;
  stop(): Promise<void>;
}

const BUN = join(import.meta.dir, "../../../../node_modules/.bin/bun");
const SCRIPT = join(import.meta.dir, "server.ts");

export async function startOpcuaPeer(env: Record<string, string> = {}, port?: number): Promise<OpcuaPeer> {
  const p = port ?? (await freePort());
  const pki = env.OPCUA_PKI ?? mkdtempSync(join(tmpdir(), "tbgw-opcua-server-pki-"));
  const proc = await startProcess(BUN, [SCRIPT], {
    ready: /OPCUA READY (\S+)/,
    timeoutMs: 30000,
    env: { OPCUA_PORT: String(p), OPCUA_PKI: pki, ...env },
  });
  const url = /OPCUA READY (\S+)/.exec(proc.output())![1]!;
  return { url, port: p, pki, proc, stop: () => proc.stop() };
}
