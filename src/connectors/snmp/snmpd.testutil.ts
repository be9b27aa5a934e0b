// Test peer: Debian's snmpd on a free loopback UDP port with its own config and state folder.
// v2c: "public" read-only, "private" read-write; v3: user "tbuser" (SHA + AES, authPriv, read-write).
// sysContact/sysLocation are left out of the config so snmpd lets SET change them.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { startProcess, type Started } from "../../../test/support/process.ts";

export const V3_USER = { user: "tbuser", authKey: "tb-auth-pass", privKey: "tb-priv-pass" };

export interface Snmpd {
  port: number;
  proc: Started;
  stop(): Promise<void>;
}

const quietEnv = { MIBS: "", MIBDIRS: "/nonexistent" };

export async function startSnmpd(): Promise<Snmpd> {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-snmpd-"));
  const port = await freeUdpPort();
  const conf = join(dir, "snmpd.conf");
  writeFileSync(
    conf,
    [
      `agentAddress udp:127.0.0.1:${port}`,
      "rocommunity public 127.0.0.1",
      "rwcommunity private 127.0.0.1",
      `createUser ${V3_USER.user} SHA "${V3_USER.authKey}" AES "${V3_USER.privKey}"`,
      `rwuser ${V3_USER.user} priv`,
      "dontLogTCPWrappersConnects yes",
      "",
    ].join("\n"),
  );
  const proc = await startProcess("/usr/sbin/snmpd", ["-f", "-Lo", "-C", "-c", conf, "-p", join(dir, "pid"), "-M", "/nonexistent", "-m", ""], {
    ready: /NET-SNMP version/,
    env: { ...quietEnv, SNMP_PERSISTENT_DIR: join(dir, "state") },
  });
  return {
    port,
    proc,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Net-SNMP command-line tools as an independent reference: numeric OIDs, raw values. */
export function snmpTool(tool: "snmpget" | "snmpwalk" | "snmpset", port: number, args: string[]): string {
  const r = spawnSync(tool, ["-v2c", "-c", tool === "snmpset" ? "private" : "public", "-On", "-Oq", "-Ov", "-Oe", `127.0.0.1:${port}`, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...quietEnv },
  });
  if (r.status !== 0) throw new Error(`${tool} failed: ${r.stderr}`);
  return r.stdout;
}

export function snmpWalkPairs(port: number, oid: string): Array<[string, string]> {
  const r = spawnSync("snmpwalk", ["-v2c", "-c", "public", "-On", "-Oq", "-Oe", "-Ot", `127.0.0.1:${port}`, oid], {
    encoding: "utf8",
    env: { ...process.env, ...quietEnv },
  });
  if (r.status !== 0) throw new Error(`snmpwalk failed: ${r.stderr}`);
  return r.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const i = line.indexOf(" ");
      return [line.slice(0, i).replace(/^\./, ""), line.slice(i + 1).replace(/^"|"$/g, "")];
    });
}
