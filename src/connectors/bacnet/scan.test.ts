// `tb-gw scan bacnet` as a user runs it: the CLI in its own process against the peer process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { freeUdpPort } from "../../../test/support/ports.ts";
import { startProcess } from "../../../test/support/process.ts";
import { startPeer } from "./peer-process.ts";
import { interfaceSubnet, whoIsBroadcast } from "./scan.ts";
import { BacnetConfigSchema } from "./schema.ts";

const root = join(import.meta.dir, "../../..");
const bun = join(root, "node_modules/.bin/bun");

async function scan(args: string[], port = 0): Promise<{ code: number | null; out: string; err: string }> {
  const p = await startProcess(bun, [join(root, "cli/main.ts"), "scan", "bacnet", "--interface", "127.0.0.1", "--port", String(port), "--wait", "1", ...args]);
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

describe("Who-Is broadcast address", () => {
  const ifaces = {
    lo: [{ address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4", mac: "00:00:00:00:00:00", internal: true, cidr: "127.0.0.1/8" }],
    eth1: [
      { address: "fe80::1", netmask: "ffff:ffff:ffff:ffff::", family: "IPv6", mac: "02:00:00:00:00:01", internal: false, cidr: "fe80::1/64", scopeid: 2 },
      { address: "192.168.1.20", netmask: "255.255.255.0", family: "IPv4", mac: "02:00:00:00:00:01", internal: false, cidr: "192.168.1.20/24" },
    ],
    eth2: [{ address: "10.20.30.40", netmask: "255.255.240.0", family: "IPv4", mac: "02:00:00:00:00:02", internal: false, cidr: "10.20.30.40/20" }],
  } as const;

  test("the subnet broadcast of the interface holding the address, from its netmask", () => {
    expect(interfaceSubnet("127.0.0.1", ifaces as never)).toEqual({ name: "lo", prefix: 8, broadcast: "127.255.255.255" });
    expect(interfaceSubnet("192.168.1.20", ifaces as never)).toEqual({ name: "eth1", prefix: 24, broadcast: "192.168.1.255" });
    expect(interfaceSubnet("10.20.30.40", ifaces as never)).toEqual({ name: "eth2", prefix: 20, broadcast: "10.20.31.255" });
    expect(interfaceSubnet("192.168.1.21", ifaces as never)).toBeUndefined();
  });

  test("--broadcast wins; 0.0.0.0 or an unknown address keeps 255.255.255.255; no port given → the scan's port", () => {
    const pick = (iface: string, port: number, b?: string) => whoIsBroadcast(iface, port, b, ifaces as never);
    expect(pick("127.0.0.1", 47808)).toEqual({ address: "127.255.255.255", why: "subnet broadcast of 127.0.0.1/8 on lo" });
    expect(pick("192.168.1.20", 0).address).toBe("192.168.1.255");
    expect(pick("192.168.1.20", 47809).address).toBe("192.168.1.255:47809");
    expect(pick("192.168.1.20", 47808, "192.168.255.255")).toEqual({ address: "192.168.255.255", why: "--broadcast" });
    expect(pick("192.168.1.20", 47809, "192.168.255.255:47900").address).toBe("192.168.255.255:47900");
    expect(pick("0.0.0.0", 47808)).toEqual({ address: "255.255.255.255", why: "no --interface" });
    expect(pick("192.168.9.9", 0).address).toBe("255.255.255.255");
  });
});

// Loopback only: the peers listen on 127.0.0.3/127.0.0.4 and on 127.255.255.255, all on one port,
// which the scan binds on 127.0.0.1 (devices of one BACnet/IP network share a port).
describe("tb-gw scan bacnet --interface 127.0.0.1 without --broadcast", () => {
  test("broadcasts to 127.255.255.255 and finds both peers on loopback", async () => {
    const port = await freeUdpPort("127.0.0.1");
    const peers = [];
    try {
      peers.push(await startPeer(5151, 0, { host: "127.0.0.3", port, broadcastListen: "127.255.255.255" }));
      peers.push(await startPeer(5252, 0, { host: "127.0.0.4", port, broadcastListen: "127.255.255.255" }));
      const r = await scan(["--json", "--no-objects"], port);
      expect(r.err).toContain(`Who-Is broadcast to 127.255.255.255:${port} (subnet broadcast of 127.0.0.1/8 on lo)`);
      expect(r.code).toBe(0);
      const { devices } = JSON.parse(r.out);
      expect(devices.map((d: { deviceId: number; address: string; name: string }) => [d.deviceId, d.address, d.name])).toEqual([
        [5151, `127.0.0.3:${port}`, "TestDevice"],
        [5252, `127.0.0.4:${port}`, "TestDevice"],
      ]);
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
    }
  }, 20000);
});
