// The whole gateway (`tb-gw run`, own process) with upstream's request.json adapted only in host
// and port: Python's http.server is the polled device (recording what the gateway sends), Mosquitto
// + the platform harness play ThingsBoard.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mainConfig, startGateway, writeGatewayConfig } from "../../../test/support/gateway.ts";
import type { PlatformHarness } from "../../../test/support/platform.ts";
import type { HttpDevice } from "../../common/http/test/device.testutil.ts";
import { startHttpWorld, type HttpWorld } from "../../common/http/test/world.testutil.ts";
import { adaptedRequestSample, sampleRoutes, withRequestExtension } from "./test/sample.ts";

let world: HttpWorld | undefined;
let harness: PlatformHarness | undefined;
let device: HttpDevice | undefined;

beforeAll(async () => {
  world = await startHttpWorld(sampleRoutes);
  ({ harness, device } = world);
  const dir = withRequestExtension(mkdtempSync(join(tmpdir(), "tbgw-request-gw-")));
  const storage = { type: "memory", read_records_count: 100, max_records_count: 10000 };
  const files = writeGatewayConfig(mainConfig(world.broker.port, storage, [{ name: "Request", type: "request", configuration: "request.json" }]), { "request.json": adaptedRequestSample(device.port) }, dir);
  world.gw = await startGateway(files.configPath);
}, 60000);

afterAll(() => world?.stop());

const tele = (h: PlatformHarness, device: string, key: string) => h.telemetry().find((r) => r.device === device && r.key === key)?.value;
const attr = (h: PlatformHarness, device: string, key: string) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body?.[device]?.[key] !== undefined)?.body[device][key];

describe("request.json through the whole gateway", () => {
  test("uplink: the sample's devices, keys and values reach the platform", async () => {
    const h = harness!;
    await h.waitFor((x) => tele(x, "SD8500", "combine") !== undefined && tele(x, "SD8500", "OUT1") !== undefined && tele(x, "2-meter", "cumPwr") !== undefined, 20000, "all mappings' telemetry");
    expect(tele(h, "SD8500", "Maintainer")).toBe("Tester");
    expect(tele(h, "SD8500", "combine")).toBe("Tester:null");
    expect(tele(h, "SD8500", "Temperature")).toBe(21.5);
    expect(tele(h, "1-meter", "cumPwr")).toBe(12.5);
    await h.waitFor((x) => attr(x, "SD8500", "serialNumber") !== undefined && attr(x, "2-meter", "serialNr") !== undefined, 15000, "attributes");
    expect(attr(h, "SD8500", "serialNumber")).toBe("SN-0042");
    expect(attr(h, "2-meter", "id")).toBe(2);
    expect(h.received.find((r) => r.topic === "v1/gateway/connect" && r.body.device === "1-meter")?.body.type).toBe("GridVis");
  }, 30000);

  test("downlink: attribute update and RPC as HTTP requests, replies on the platform", async () => {
    const h = harness!;
    await h.waitFor((x) => x.received.some((r) => r.topic === "v1/gateway/connect" && r.body.device === "SD8500"), 20000, "SD8500 connected");
    await h.sendAttributeUpdate("SD8500", { send_data: "now" });
    const reqs = await device!.waitFor((r) => r.some((x) => x.path === "/sensor/SD8500/send_data"), 10000, "attribute update request");
    expect(JSON.parse(reqs.find((x) => x.path === "/sensor/SD8500/send_data")!.body)).toEqual({ send_data: "now" });

    await h.sendDeviceRpc("SD8500", 7, "echo", {});
    const echo = await h.waitFor((x) => x.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 7), 10000, "echo reply");
    expect(echo.body.data).toEqual({ value: "21.5" });
    await h.sendDeviceRpc("SD8500", 8, "no-reply", { level: 2 });
    const noReply = await h.waitFor((x) => x.received.find((r) => r.topic === "v1/gateway/rpc" && r.body.id === 8), 10000, "no-reply reply");
    expect(noReply.body.data).toEqual({ accepted: true });
    const recorded = await device!.waitFor((r) => r.some((x) => x.path === "/sensor/SD8500/request/no-reply/8"), 5000, "no-reply request");
    expect(JSON.parse(recorded.find((x) => x.path === "/sensor/SD8500/request/no-reply/8")!.body)).toEqual({ level: 2 });
  }, 30000);
});
