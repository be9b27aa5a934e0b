// "200 means stored": the whole gateway with sqlite storage and no platform; every request curl
// got 200 for must reach the platform after the gateway is killed with SIGKILL right after the
// answers and started again. And with storage full, the device gets 503 with Retry-After.

import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mainConfig, startGateway, writeGatewayConfig } from "../../../test/support/gateway.ts";
import { startMosquitto, type Broker } from "../../../test/support/mosquitto.ts";
import { startPlatformHarness, type PlatformHarness } from "../../../test/support/platform.ts";
import { freePort } from "../../../test/support/ports.ts";
import type { Started } from "../../../test/support/process.ts";
import { curlMany, postJson } from "./test/curl.ts";

function restConfig(port: number) {
  return {
    server: { host: "127.0.0.1", port },
    mapping: [
      {
        endpoint: "/meter/{deviceName}",
        HTTPMethods: ["POST"],
        converter: { type: "json", deviceInfo: { deviceNameExpressionSource: "request", deviceNameExpression: "${deviceName}" }, timeseries: [{ key: "seq", type: "int", value: "${seq}" }] },
      },
    ],
  };
}

test("every request answered 200 is delivered after kill -9 and a restart (sqlite storage)", async () => {
  const [platformPort, restPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "tbgw-rest-durable-"));
  const storage = { type: "sqlite", data_file_path: "./data/", max_read_records_count: 50 };
  const files = writeGatewayConfig(mainConfig(platformPort, storage, [{ name: "REST", type: "rest", configuration: "rest.json" }]), { "rest.json": restConfig(restPort) }, dir);
  const n = 300;
  let gw: Started | undefined;
  let broker: Broker | undefined;
  let harness: PlatformHarness | undefined;
  try {
    // no platform yet: nothing can leave storage
    gw = await startGateway(files.configPath);
    const answers = await curlMany(n, 8, (i) => ["-H", "Content-Type: application/json", "--data-binary", JSON.stringify({ seq: i, ts: 1_700_000_000_000 + i }), `http://127.0.0.1:${restPort}/meter/M${i % 3}`]);
    expect(answers.map((a) => a.status)).toEqual(new Array(n).fill(200));
    await gw.stop("SIGKILL");
    expect(gw.proc.signalCode).toBe("SIGKILL");

    broker = await startMosquitto({ port: platformPort });
    harness = await startPlatformHarness(broker.url);
    gw = await startGateway(files.configPath);
    const rows = await harness.waitFor((h) => {
      const r = h.telemetry().filter((x) => x.key === "seq");
      return new Set(r.map((x) => x.value)).size >= n && r;
    }, 30000, `all ${n} seq values`);
    const seen = new Set(rows.map((r) => r.value));
    for (let i = 0; i < n; i++) expect(seen.has(i)).toBe(true);
    for (const r of rows) expect(r.device).toBe(`M${(r.value as number) % 3}`);
  } finally {
    try {
      await gw?.stop();
      await harness?.close().catch(() => undefined);
    } finally {
      await broker?.dispose();
    }
  }
}, 90000);

test("storage full: 503 with Retry-After, 200 again once there is room", async () => {
  const [platformPort, restPort] = [await freePort(), await freePort()];
  const storage = { type: "memory", read_records_count: 10, max_records_count: 5 };
  const files = writeGatewayConfig(mainConfig(platformPort, storage, [{ name: "REST", type: "rest", configuration: "rest.json" }]), { "rest.json": restConfig(restPort) });
  let gw: Started | undefined;
  let broker: Broker | undefined;
  let harness: PlatformHarness | undefined;
  try {
    gw = await startGateway(files.configPath);
    const url = `http://127.0.0.1:${restPort}/meter/Full`;
    const statuses: number[] = [];
    let refused;
    for (let i = 0; i < 8; i++) {
      const a = await postJson(url, { seq: i });
      statuses.push(a.status);
      if (a.status === 503) refused = a;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 503, 503, 503]);
    expect(refused!.headers["retry-after"]).toBe("1");
    // the platform comes, storage drains, the device's retry is accepted
    broker = await startMosquitto({ port: platformPort });
    harness = await startPlatformHarness(broker.url);
    await harness.waitFor((h) => h.telemetry().filter((r) => r.device === "Full").length >= 5, 30000, "the five stored");
    // the device retries as told; the platform's acks free the room shortly after delivery
    let again = await postJson(url, { seq: 100 });
    for (let i = 0; again.status === 503 && i < 50; i++) {
      await Bun.sleep(Number(again.headers["retry-after"]) * 100);
      again = await postJson(url, { seq: 100 });
    }
    expect(again.status).toBe(200);
    await harness.waitFor((h) => h.telemetry().some((r) => r.device === "Full" && r.value === 100), 15000, "the retried value");
  } finally {
    try {
      await gw?.stop();
      await harness?.close().catch(() => undefined);
    } finally {
      await broker?.dispose();
    }
  }
}, 60000);
