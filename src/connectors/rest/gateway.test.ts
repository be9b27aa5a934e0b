// The whole gateway (`tb-gw run`, own process) with upstream's rest.json adapted only in host and
// port: curl is the device pushing data, Mosquitto + the platform harness play ThingsBoard, and a
// Python http.server is the device the downlink (attribute updates, RPC) is sent to.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mainConfig, startGateway, writeGatewayConfig } from "../../../test/support/gateway.ts";
import type { PlatformHarness } from "../../../test/support/platform.ts";
import { freePort } from "../../../test/support/ports.ts";
import type { HttpDevice } from "../../common/http/test/device.testutil.ts";
import { startHttpWorld, type HttpWorld } from "../../common/http/test/world.testutil.ts";
import { curl, postJson } from "./test/curl.ts";
import { adaptedRestSample, withExtension } from "./test/sample.ts";

let world: HttpWorld | undefined;
let harness: PlatformHarness | undefined;
let device: HttpDevice | undefined;
let base = "";
let dir = "";

beforeAll(async () => {
  world = await startHttpWorld({ "/SN-1": { body: { echo: "from device", n: 1 } } });
  ({ harness, device } = world);
  const restPort = await freePort();
  dir = withExtension(mkdtempSync(join(tmpdir(), "tbgw-rest-gw-")));
  const storage = { type: "memory", read_records_count: 100, max_records_count: 10000 };
  const files = writeGatewayConfig(mainConfig(world.broker.port, storage, [{ name: "REST", type: "rest", configuration: "rest.json" }]), { "rest.json": adaptedRestSample(restPort, world.device.port) }, dir);
  world.gw = await startGateway(files.configPath);
  base = `http://127.0.0.1:${restPort}`;
}, 60000);

afterAll(() => world?.stop());

const tele = (h: PlatformHarness, device: string, key: string) => h.telemetry().find((r) => r.device === device && r.key === key);
const attr = (h: PlatformHarness, device: string, key: string) =>
  h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body?.[device]?.[key] !== undefined)?.body[device][key];

describe("rest.json through the whole gateway", () => {
  test("uplink: every sample endpoint's devices, keys and typed values reach the platform", async () => {
    const r = await postJson(`${base}/my_devices`, { sensorName: "SN-1", sensorType: "Thermometer", sensorModel: "T1000", certificateNumber: "C-1", temp: "21.5", hum: "40" });
    expect(r.status).toBe(200);
    expect((await curl([`${base}/anon1?temp=-3.5&hum=80`])).status).toBe(200);
    const bin = join(dir, "anon2.bin");
    writeFileSync(bin, Buffer.from([0xff, 0xff, 0xff, 0xfe]));
    expect((await curl(["-H", "Content-Type: application/octet-stream", "--data-binary", `@${bin}`, `${base}/anon2`])).status).toBe(200);

    const h = harness!;
    await h.waitFor((x) => tele(x, "SN-1", "humidity") && tele(x, "Device 2", "humidity") && tele(x, "SuperAnonDevice", "Totaliser"), 15000, "telemetry of the three devices");
    expect(tele(h, "SN-1", "temperature")!.value).toBe(21.5);
    expect(tele(h, "SN-1", "humidity")!.value).toBe(40);
    expect(tele(h, "Device 2", "temperature")!.value).toBe(-3.5);
    expect(tele(h, "SuperAnonDevice", "Totaliser")!.value).toBe(-2);
    await h.waitFor((x) => attr(x, "SN-1", "certificateNumber") !== undefined && attr(x, "Device 2", "model") !== undefined, 15000, "attributes");
    expect(attr(h, "SN-1", "model")).toBe("T1000");
    expect(attr(h, "Device 2", "model")).toBe("Model2");
    const connect = h.received.find((x) => x.topic === "v1/gateway/connect" && x.body.device === "SN-1");
    expect(connect?.body.type).toBe("Thermometer");
  }, 30000);

  test("downlink: an attribute update and RPCs become HTTP requests; replies carry the device's answer", async () => {
    const h = harness!;
    await h.waitFor((x) => x.received.some((r) => r.topic === "v1/gateway/connect" && r.body.device === "SN-1"), 15000, "SN-1 connected");
    await h.sendAttributeUpdate("SN-1", { firmware: "2.0" });
    const reqs = await device!.waitFor((r) => r.some((x) => x.method === "POST" && x.path === "/"), 10000, "attribute update POST");
    expect(JSON.parse(reqs.find((x) => x.path === "/")!.body)).toEqual({ deviceName: "SN-1", firmware: "2.0" });

    await h.sendDeviceRpc("SN-1", 41, "echo", { any: 1 });
    const echo = await h.waitFor((x) => x.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 41), 10000, "echo reply");
    expect(echo.body).toEqual({ device: "SN-1", id: 41, data: { echo: "from device", n: 1 } });

    // post_attributes posts to the gateway's own /my_devices endpoint: the data comes back as uplink
    await h.sendDeviceRpc("SN-1", 42, "post_attributes", { sensorModel: "T2000", certificateNumber: "C-2", temp: 30, hum: 50 });
    const posted = await h.waitFor((x) => x.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 42), 10000, "post_attributes reply");
    expect(posted.body.data).toBe("");
    await h.waitFor((x) => x.received.some((r) => r.topic === "v1/gateway/attributes" && r.body?.["SN-1"]?.model === "T2000"), 10000, "T2000 attribute");
    await h.waitFor((x) => x.telemetry().some((r) => r.device === "SN-1" && r.key === "temperature" && r.value === 30), 10000, "temperature 30");
  }, 30000);

  test("attribute request endpoint answers with the platform's reply", async () => {
    harness!.sharedAttributes["SN-1"] = { targetTemp: 22, mode: "eco" };
    const r = await postJson(`${base}/sharedAttributes`, { deviceName: "SN-1", attribute: "targetTemp" });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ device: "SN-1", value: 22 });
    const both = await postJson(`${base}/sharedAttributes`, { deviceName: "SN-1", attribute: "targetTemp", attribute1: "mode" });
    expect(JSON.parse(both.body)).toEqual({ device: "SN-1", values: { targetTemp: 22, mode: "eco" } });
  }, 20000);
});
