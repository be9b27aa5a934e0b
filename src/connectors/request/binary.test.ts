// The Request connector from the compiled single executable (node_modules hidden where possible):
// upstream's request.json adapted in host/port polls the Python device (its sub-requests through
// the sample's processingFunction), the data reaches the platform, and an RPC goes to the device
// and back.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canHideNodeModules as canHide, testBinary } from "../../../test/support/binary.ts";
import { mainConfig, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { startProcess } from "../../../test/support/process.ts";
import { startHttpWorld, type HttpWorld } from "../../common/http/test/world.testutil.ts";
import { adaptedRequestSample, sampleRoutes, withRequestExtension } from "./test/sample.ts";

let world: HttpWorld | undefined;

beforeAll(async () => {
  const bin = testBinary("tbgw-request-bin-");
  world = await startHttpWorld(sampleRoutes);
  const dir = withRequestExtension(mkdtempSync(join(tmpdir(), "tbgw-request-bin-cfg-")));
  const storage = { type: "memory", read_records_count: 100, max_records_count: 10000 };
  const files = writeGatewayConfig(mainConfig(world.broker.port, storage, [{ name: "Request", type: "request", configuration: "request.json" }]), { "request.json": adaptedRequestSample(world.device.port) }, dir);
  const [cmd, args] = bin.command(["run", "--config", files.configPath]);
  world.gw = await startProcess(cmd, args, { ready: /gateway started/, timeoutMs: 30000, cwd: dir, env: { TB_GW_LOG_LEVEL: "INFO" } });
}, 180000);

afterAll(() => world?.stop());

test(`Request from the binary: polls delivered, sub-requests through the sample's processingFunction, custom converter loaded, RPC answered${canHide ? " (node_modules hidden)" : ""}`, async () => {
  const h = world!.harness;
  const tele = (d: string, k: string) => h.telemetry().find((r) => r.device === d && r.key === k)?.value;
  await h.waitFor(() => tele("SD8500", "combine") !== undefined && tele("SD8500", "Totaliser") !== undefined && tele("1-meter", "cumPwr") !== undefined && tele("2-meter", "cumPwr") !== undefined, 20000, "telemetry");
  // cumPwr: the device answers GridVis history in Wh, the sample's process_data gives kWh
  expect([tele("SD8500", "combine"), tele("SD8500", "Totaliser"), tele("1-meter", "cumPwr"), tele("2-meter", "cumPwr")]).toEqual(["Tester:null", 1000, 12.5, 7.25]);
  await h.sendDeviceRpc("SD8500", 7, "echo", {});
  const reply = await h.waitFor((x) => x.received.find((m) => m.topic === "v1/gateway/rpc" && m.body.id === 7), 15000, "RPC reply");
  expect(reply.body.data).toEqual({ value: "21.5" });
}, 60000);
