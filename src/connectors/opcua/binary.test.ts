// The OPC-UA client from the compiled single executable, with node_modules out of reach (hidden by
// an empty bind mount in a private mount namespace when we are root): `tb-gw scan opcua` over
// SignAndEncrypt creates the client's own certificate and PKI folder on first run in pure JS and
// browses the secured test peer (which itself runs from source: it needs node_modules' nodesets).

import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { canHideNodeModules as canHide, testBinary } from "../../../test/support/binary.ts";
import { startProcess } from "../../../test/support/process.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";
import type { ScanNode } from "./scan.ts";

let bin: ReturnType<typeof testBinary>;
let work: string;
let peer: OpcuaPeer;
beforeAll(async () => {
  bin = testBinary("tbgw-opcua-bin-");
  work = bin.dir;
  peer = await startOpcuaPeer({ OPCUA_SECURE: "1" });
}, 120000);
afterAll(async () => {
  await peer?.stop();
});

test(`secure scan from the binary creates the PKI folder on first run${canHide ? " (node_modules hidden)" : ""}`, async () => {
  const dataDir = join(work, "data");
  const args = ["scan", "opcua", peer.url, "--mode", "SignAndEncrypt", "--policy", "Basic256Sha256", "--username", "gwuser", "--password", "gwpass", "--start", "Root.Objects.MyObject", "--depth", "1", "--json"];
  const [cmd, argv] = bin.command(args);
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
