// The OPC-UA client from the compiled single executable, with node_modules out of reach (hidden by
// an empty bind mount in a private mount namespace when we are root): `tb-gw scan opcua` over
// SignAndEncrypt creates the client's own certificate and PKI folder on first run in pure JS and
// browses the secured test peer (which itself runs from source: it needs node_modules' nodesets).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT } from "../../../test/support/gateway.ts";
import { startProcess } from "../../../test/support/process.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";
import type { ScanNode } from "./scan.ts";

const work = mkdtempSync(join(tmpdir(), "tbgw-opcua-bin-"));
const empty = mkdtempSync(join(tmpdir(), "tbgw-empty-"));
const bin = join(work, "tb-gw");
const canHide = process.getuid?.() === 0 && spawnSync("unshare", ["-m", "true"]).status === 0;

let peer: OpcuaPeer;
beforeAll(async () => {
  const r = spawnSync(BUN, ["build.ts"], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
  copyFileSync(join(ROOT, "dist/tb-gw"), bin);
  peer = await startOpcuaPeer({ OPCUA_SECURE: "1" });
}, 120000);
afterAll(async () => {
  await peer?.stop();
});

test(`secure scan from the binary creates the PKI folder on first run${canHide ? " (node_modules hidden)" : ""}`, async () => {
  const dataDir = join(work, "data");
  const args = ["scan", "opcua", peer.url, "--mode", "SignAndEncrypt", "--policy", "Basic256Sha256", "--username", "gwuser", "--password", "gwpass", "--start", "Root.Objects.MyObject", "--depth", "1", "--json"];
  const quoted = [bin, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const [cmd, argv] = canHide ? ["unshare", ["-m", "sh", "-c", `mount --bind '${empty}' '${join(ROOT, "node_modules")}' && exec ${quoted}`]] : [bin, args];
  const p = await startProcess(cmd, argv, { cwd: work, env: { TB_GW_DATA_DIR: dataDir } });
  let stdout = "";
  let stderr = "";
  p.proc.stdout!.on("data", (b: Buffer) => (stdout += b));
  p.proc.stderr!.on("data", (b: Buffer) => (stderr += b));
  try {
    const code = await new Promise<number | null>((r) => (p.proc.exitCode !== null ? r(p.proc.exitCode) : p.proc.once("exit", (c) => r(c))));
    expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
  } finally {
    await p.stop();
  }
  const tree = JSON.parse(stdout) as ScanNode[];
  expect(tree.find((n) => n.browseName === "1:Humidity")).toMatchObject({ nodeId: "ns=1;s=MyObject.Humidity", dataType: "Double", value: 40.5 });
  expect(existsSync(join(dataDir, "opcua-pki", "own", "certs", "client_certificate.pem"))).toBe(true);
  expect(existsSync(join(dataDir, "opcua-pki", "own", "private", "private_key.pem"))).toBe(true);
}, 60000);
