// BACnet from the compiled single executable (build.ts), with node_modules out of reach when we
// can hide it (root + mount namespace): `tb-gw scan bacnet` finds the device process and reads its
// objects, and `tb-gw run` with a bacnet connector discovers it and answers Who-Is for its own
// device object. (The stack's CommonJS default export once broke only here.)

import { beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { canHideNodeModules, testBinary } from "../../../test/support/binary.ts";
import { freePort, freeUdpPort } from "../../../test/support/ports.ts";
import { startProcess } from "../../../test/support/process.ts";
import { hex } from "./bbmd-peer.ts";
import { startPeer } from "./peer-process.ts";

let bin: ReturnType<typeof testBinary>;
let work: string;
const canHide = canHideNodeModules;
const command = (args: string[]) => bin.command(args);

beforeAll(() => {
  bin = testBinary("tbgw-bacnet-bin-");
  work = bin.dir;
}, 120000);

test(`scan bacnet from the binary${canHide ? " (node_modules hidden)" : ""}`, async () => {
  const peer = await startPeer(4711);
  try {
    const [cmd, argv] = command(["scan", "bacnet", "--interface", "127.0.0.1", "--port", "0", "--target", peer.address, "--wait", "1", "--json"]);
    const r = spawnSync(cmd, argv, { cwd: work, encoding: "utf8", timeout: 20000 });
    expect({ code: r.status, stderr: r.status === 0 ? "" : r.stderr }).toEqual({ code: 0, stderr: "" });
    const found = JSON.parse(r.stdout) as { devices: Array<{ deviceId: number; name: string; objects: Array<{ name?: string; presentValue?: unknown }> }> };
    expect(found.devices.map((d) => [d.deviceId, d.name])).toEqual([[4711, "TestDevice"]]);
    expect(found.devices[0]!.objects.find((o) => o.name === "Temperature")).toMatchObject({ presentValue: 21.5 });
  } finally {
    await peer.stop();
  }
}, 30000);

test("run with a bacnet connector from the binary: discovers the device, answers Who-Is", async () => {
  const peer = await startPeer(4712);
  const gwPort = await freeUdpPort("127.0.0.1");
  const dir = mkdtempSync(join(work, "run-"));
  // The platform port is closed: the connector side works regardless, data waits in storage.
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify({ thingsboard: { host: "127.0.0.1", port: await freePort(), security: { type: "accessToken", accessToken: "x" } }, storage: { type: "memory" }, connectors: [{ type: "bacnet", name: "BACnet", configuration: "bacnet.json" }] }));
  writeFileSync(
    join(dir, "bacnet.json"),
    JSON.stringify({
      application: { objectName: "gw-bin", host: "127.0.0.1", port: gwPort, objectIdentifier: 777, maxApduLengthAccepted: 480, segmentationSupported: "noSegmentation" },
      devices: [{ deviceInfo: { deviceNameExpression: "Bin ${objectName}" }, address: peer.address, pollPeriod: 500, timeseries: [{ key: "t", objectType: "analogInput", objectId: 1 }] }],
    }),
  );
  const [cmd, argv] = command(["run", "-c", join(dir, "tb_gateway.json")]);
  const gw = await startProcess(cmd, argv, { cwd: dir, ready: /device 4712 at 127\.0\.0\.2:\d+ is "Bin TestDevice"/, timeoutMs: 20000 });
  const sock = createSocket("udp4");
  try {
    await new Promise<void>((r) => sock.bind(0, "127.0.0.2", r));
    const answer = new Promise<string>((resolve) => sock.once("message", (m) => resolve(hex(new Uint8Array(m)))));
    sock.send(Uint8Array.of(0x81, 0x0a, 0x00, 0x08, 0x01, 0x00, 0x10, 0x08), gwPort, "127.0.0.1");
    // 777 = 0x309; max APDU 480; noSegmentation; vendor 15.
    expect(await answer).toBe("81 0a 00 14 01 00 10 00 c4 02 00 03 09 22 01 e0 91 03 21 0f");
  } finally {
    sock.close();
    await gw.stop();
    await peer.stop();
  }
}, 40000);
