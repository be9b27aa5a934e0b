// The REST connector from the compiled single executable (node_modules hidden where possible):
// upstream's rest.json adapted in host/port, curl posts, the data reaches the platform and an RPC
// goes out to the Python device and back.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canHideNodeModules as canHide, testBinary } from "../../../test/support/binary.ts";
import { mainConfig, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { freePort } from "../../../test/support/ports.ts";
import { startProcess } from "../../../test/support/process.ts";
import { startHttpWorld, type HttpWorld } from "../../common/http/test/world.testutil.ts";
import { adaptedRestSample, withExtension } from "./test/sample.ts";
import { postJson } from "./test/curl.ts";

let world: HttpWorld | undefined;
let restPort = 0;

beforeAll(async () => {
  const bin = testBinary("tbgw-rest-bin-");
  world = await startHttpWorld({ "/SN-9": { body: { pong: true } } });
  restPort = await freePort();
  const dir = withExtension(mkdtempSync(join(tmpdir(), "tbgw-rest-bin-cfg-")));
  const storage = { type: "sqlite", data_file_path: "./data/" };
  const files = writeGatewayConfig(mainConfig(world.broker.port, storage, [{ name: "REST", type: "rest", configuration: "rest.json" }]), { "rest.json": adaptedRestSample(restPort, world.device.port) }, dir);
  const [cmd, args] = bin.command(["run", "--config", files.configPath]);
  world.gw = await startProcess(cmd, args, { ready: /gateway started/, timeoutMs: 30000, cwd: dir, env: { TB_GW_LOG_LEVEL: "INFO" } });
}, 180000);

afterAll(() => world?.stop());

test(`REST from the binary: uplink stored and delivered, RPC answered by the device${canHide ? " (node_modules hidden)" : ""}`, async () => {
  const r = await postJson(`http://127.0.0.1:${restPort}/my_devices`, { sensorName: "SN-9", sensorType: "T", sensorModel: "M9", certificateNumber: "C9", temp: "19.25", hum: 33 });
  expect(r.status).toBe(200);
  const h = world!.harness;
  await h.waitFor((x) => x.telemetry().some((t) => t.device === "SN-9" && t.key === "temperature" && t.value === 19.25), 20000, "SN-9 temperature");
  await h.sendDeviceRpc("SN-9", 5, "echo", {});
  const reply = await h.waitFor((x) => x.received.find((m) => m.topic === "v1/gateway/rpc" && m.body.id === 5), 15000, "RPC reply");
  expect(reply.body.data).toEqual({ pong: true });
}, 60000);
