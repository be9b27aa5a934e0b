// One gateway per storage folder (src/storage/folder-claim.ts), through the compiled executable on
// upstream's tb_gateway.json (sqlite storage) and mqtt.json: a second start on the same config is
// refused with exit code 1, naming the running one and the fix, while the first goes on delivering;
// a gateway killed with SIGKILL leaves its mark behind, and the next start takes the folder over;
// a clean stop removes the mark.

import mqtt from "mqtt";
import { beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../support/gateway.ts";
import { platformForFile, sendUntilSeen } from "../support/platform.ts";
import type { Started } from "../support/process.ts";
import { mqttSample, upstreamMain } from "../support/upstream.ts";

const platform = platformForFile({ deviceBroker: true });

beforeAll(() => void gatewayBinary(), 300_000);

test("a second gateway on the same storage folder is refused and the first goes on; after a kill -9 the next start takes the folder over", async () => {
  const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "mqtt", name: "MQTT Broker Connector", configuration: "mqtt.json" }], { type: "sqlite" }), {
    "mqtt.json": mqttSample(platform.device.port),
  });
  const mark = join(files.dir, "data", ".tb-gw.lock");
  const owner = () => readFileSync(mark, "utf8").trim();
  const temperatures = () => platform.harness.telemetry().filter((t) => t.key === "temperature").map((t) => t.value);
  const dev = await mqtt.connectAsync(platform.device.url, { clientId: "storage-claim-device" });
  const deliver = (temp: number, what: string) =>
    sendUntilSeen(platform.harness, () => dev.publishAsync("sensor/SN-7/data", JSON.stringify({ sensorModel: "T1", temp, hum: "40" }), { qos: 1 }), () => temperatures().includes(temp), 30_000, what);
  let first: Started | undefined = await startGatewayFrom("binary", files.configPath);
  let next: Started | undefined;
  try {
    expect(owner()).toBe(String(first.proc.pid));
    const [cmd, args] = gatewayBinary().command(["run", "--config", files.configPath]);
    const second = spawnSync(cmd, args, { cwd: files.dir, encoding: "utf8", timeout: 60_000 });
    expect(second.status).toBe(1);
    expect(second.stdout + second.stderr).toContain(
      `storage.data_file_path: ${join(files.dir, "data")} is used by another tb-gw (pid ${first.proc.pid}); two gateways on one storage folder break each other's writes and may delete each other's unsent records. Stop that one, or run this one as another instance`,
    );
    expect(owner()).toBe(String(first.proc.pid));
    await deliver(21.5, "the first gateway's data after the refused start");

    const exited = new Promise((r) => first!.proc.once("exit", r));
    first.proc.kill("SIGKILL");
    await exited;
    first = undefined;
    expect(existsSync(mark)).toBe(true);
    next = await startGatewayFrom("binary", files.configPath);
    expect(owner()).toBe(String(next.proc.pid));
    await deliver(22.5, "data through the gateway that took the folder over");
    await next.stop();
    next = undefined;
    expect(existsSync(mark)).toBe(false);
  } finally {
    await first?.stop();
    await next?.stop();
    await dev.endAsync(true).catch(() => {});
  }
}, 120_000);
