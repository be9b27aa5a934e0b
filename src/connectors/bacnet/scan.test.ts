// `tb-gw scan bacnet` as a user runs it: the CLI in its own process against the peer process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { startProcess } from "../../../test/support/process.ts";
import { startPeer } from "./peer-process.ts";
import { BacnetConfigSchema } from "./schema.ts";

const root = join(import.meta.dir, "../../..");
const bun = join(root, "node_modules/.bin/bun");

async function scan(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const p = await startProcess(bun, [join(root, "cli/main.ts"), "scan", "bacnet", "--interface", "127.0.0.1", "--port", "0", "--wait", "1", ...args]);
  let out = "", err = "";
  p.proc.stdout!.on("data", (b: Buffer) => (out += b));
  p.proc.stderr!.on("data", (b: Buffer) => (err += b));
  const code = await new Promise<number | null>((r) => (p.proc.exitCode !== null ? r(p.proc.exitCode) : p.proc.once("exit", (c) => r(c))));
  await p.stop();
  return { code, out, err };
}

describe("tb-gw scan bacnet", () => {
  let peer: Awaited<ReturnType<typeof startPeer>>;
  beforeAll(async () => {
    peer = await startPeer(4242);
  }, 20000);
  afterAll(async () => {
    await peer?.stop();
  });

  test("--json lists the device and its objects", async () => {
    const r = await scan(["--target", peer.address, "--json"]);
    expect(r.code).toBe(0);
    const { devices } = JSON.parse(r.out);
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ deviceId: 4242, address: peer.address, vendorId: 260, name: "TestDevice", vendorName: "tb-gw test peer" });
    expect(devices[0].objects).toContainEqual({ objectType: "analogInput", objectId: 1, name: "Temperature", presentValue: 21.5 });
    expect(devices[0].objects).toContainEqual({ objectType: "binaryValue", objectId: 1, name: "State", presentValue: "1" });
    expect(r.err).toContain("Who-Is to");
  }, 15000);

  test("human output and --range filtering", async () => {
    const r = await scan(["--target", peer.address, "--range", "4000-4300"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/device 4242 +127\.0\.0\.2:\d+ +name="TestDevice"/);
    expect(r.out).toMatch(/analogOutput:2 +"Setpoint" +18\.25/);
    const none = await scan(["--target", peer.address, "--range", "1-10"]);
    expect(none.code).toBe(1);
    expect(none.out).toBe("");
  }, 15000);

  test("--emit-config prints a config the schema accepts", async () => {
    const r = await scan(["--target", peer.address, "--emit-config"]);
    expect(r.code).toBe(0);
    const cfg = BacnetConfigSchema.parse(JSON.parse(r.out));
    expect(cfg.devices[0]!.deviceId).toBe(4242);
    expect(cfg.devices[0]!.timeseries).toContainEqual({ key: "Temperature", objectType: "analogInput", objectId: 1, propertyId: "presentValue" });
  }, 15000);

  test("nothing answering → exit 1; bad options → exit 2", async () => {
    const silent = await scan(["--target", `127.0.0.2:${await freeUdpPort("127.0.0.2")}`]);
    expect(silent.code).toBe(1);
    expect(silent.err).toContain("no BACnet device answered");
    const bad = await scan(["--range", "9-1"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--range must look like");
  }, 15000);
});
