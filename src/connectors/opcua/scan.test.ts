// `tb-gw scan opcua` as a user runs it (the CLI in its own process) against the test peer.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess } from "../../../test/support/process.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";
import type { ScanNode } from "./scan.ts";
import { OpcuaConfigSchema } from "./schema.ts";

const ROOT_DIR = join(import.meta.dir, "../../..");
const BUN = join(ROOT_DIR, "node_modules/.bin/bun");
const CLI = join(ROOT_DIR, "cli/main.ts");

let peer: OpcuaPeer;
beforeAll(async () => {
  peer = await startOpcuaPeer();
}, 40000);
afterAll(async () => {
  await peer?.stop();
});

async function scan(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = await startProcess(BUN, [CLI, "scan", "opcua", ...args], { cwd: ROOT_DIR, env: { TB_GW_DATA_DIR: mkdtempSync(join(tmpdir(), "tbgw-scan-")) } });
  let stdout = "";
  let stderr = "";
  p.proc.stdout!.on("data", (b: Buffer) => (stdout += b));
  p.proc.stderr!.on("data", (b: Buffer) => (stderr += b));
  const code = await new Promise<number | null>((r) => (p.proc.exitCode !== null ? r(p.proc.exitCode) : p.proc.once("exit", (c) => r(c))));
  return { code, stdout, stderr };
}

const find = (nodes: ScanNode[], name: string): ScanNode | undefined => {
  for (const n of nodes) {
    if (n.browseName === name) return n;
    const f = find(n.children ?? [], name);
    if (f) return f;
  }
};

test("scan prints the known tree as JSON with node ids, types and values, and emits a config", async () => {
  const out = join(mkdtempSync(join(tmpdir(), "tbgw-emit-")), "opcua.json");
  const r = await scan([peer.url, "--json", "--depth", "2", "--emit-config", out, "--nodes", "MyObject"]);
  expect(r.code).toBe(0);
  const tree = JSON.parse(r.stdout) as ScanNode[];
  const my = find(tree, "1:MyObject")!;
  expect(my.nodeId).toBe("ns=1;s=MyObject");
  expect(find(tree, "1:Power")).toMatchObject({ nodeId: "ns=1;s=MyObject.Power", dataType: "Int32", value: 1500, nodeClass: "Variable" });
  expect(find(tree, "1:UInt64")).toMatchObject({ dataType: "UInt64", value: "18446744073709551615" });
  expect(find(tree, "1:multiply")?.nodeClass).toBe("Method");
  // Depth 2 from Objects: grandchildren of Objects are present, their children are not.
  expect(find(tree, "1:Power")!.children).toBeUndefined();
  const cfg = OpcuaConfigSchema.parse(JSON.parse(readFileSync(out, "utf8")));
  expect(cfg.mapping.map((m) => m.deviceNodePattern)).toEqual(["Root\\.Objects\\.1:MyObject"]);
  expect(cfg.mapping[0]!.timeseries.map((t) => t.key)).toEqual(["Frequency", "Power", "Humidity", "Temperature", "Relay", "Volatile"]);
  expect(r.stderr).toContain("browsed");
}, 30000);

test("scan text output from a start path, depth 1", async () => {
  const r = await scan([peer.url, "--start", "Root.Objects.Types", "--depth", "1"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('1:DateTime  [ns=1;s=Types.DateTime]  DateTime = "2024-05-06T07:08:09.123Z"');
  expect(r.stdout).not.toContain("MyObject");
}, 30000);

test("scan exit codes: 2 for bad usage, 1 when the server is unreachable", async () => {
  expect((await scan([peer.url, "--depth", "0"])).code).toBe(2);
  const dead = peer.url.replace(`:${peer.port}`, ":1");
  const r = await scan([dead, "--timeout", "1000"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("failed");
}, 30000);
