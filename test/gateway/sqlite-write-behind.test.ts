// Write-behind of the sqlite storage (src/storage/sqlite.ts, HOLD_MS), through the compiled
// executable on upstream's tb_gateway.json (sqlite storage) and mqtt.json:
// - while the platform acknowledges promptly, device data reaches it without being written to the
//   database: its write-ahead log grows by far fewer pages than batches (before, every batch
//   appended a 4 KB page);
// - when the platform stops acknowledging (its broker frozen with SIGSTOP, the connection still
//   open), the data held for it goes to disk within the hold; after a kill -9 and a restart it is
//   delivered.

import mqtt from "mqtt";
import { Database } from "bun:sqlite";
import { beforeAll, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { gatewayBinary, startGatewayFrom, writeGatewayConfig } from "../support/gateway.ts";
import { platformForFile, sendUntilSeen } from "../support/platform.ts";
import { waitUntil } from "../support/poll.ts";
import type { Started } from "../support/process.ts";
import { mqttSample, upstreamMain } from "../support/upstream.ts";

const platform = platformForFile({ deviceBroker: true });

beforeAll(() => void gatewayBinary(), 300_000);

/** A WAL frame: one 4 KB page and its 24-byte header. */
const WAL_FRAME = 4096 + 24;

test("sqlite storage: data the platform acknowledges at once is not written; data it does not acknowledge goes to disk and survives kill -9", async () => {
  const files = writeGatewayConfig(upstreamMain(platform.port, [{ type: "mqtt", name: "MQTT Broker Connector", configuration: "mqtt.json" }], { type: "sqlite" }), {
    "mqtt.json": mqttSample(platform.device.port),
  });
  const dbFile = join(files.dir, "data", "data.db");
  const temperatures = () => new Set(platform.harness.telemetry().filter((t) => t.key === "temperature").map((t) => t.value));
  const dev = await mqtt.connectAsync(platform.device.url, { clientId: "write-behind-device" });
  const publish = (temp: number) => dev.publishAsync("sensor/SN-7/data", JSON.stringify({ sensorModel: "T1", temp, hum: "40" }), { qos: 1 });
  const rowsOnDisk = () => {
    const db = new Database(dbFile, { readonly: true });
    try {
      return (db.query("SELECT count(*) AS n FROM messages").get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  let gw: Started | undefined = await startGatewayFrom("binary", files.configPath);
  const brokerPid = platform.broker.pid!;
  let frozen = false;
  try {
    await sendUntilSeen(platform.harness, () => publish(1), () => temperatures().has(1), 30_000, "the first value");
    const walBefore = statSync(`${dbFile}-wal`).size;
    // 60 device messages, 40 ms apart: a batch each under the connector's 30 ms window
    const steady = Array.from({ length: 60 }, (_, i) => 100 + i);
    for (const t of steady) {
      await publish(t);
      await Bun.sleep(40);
    }
    await platform.harness.waitFor(() => steady.every((t) => temperatures().has(t)) || undefined, 30_000, "the 60 values");
    const grown = statSync(`${dbFile}-wal`).size - walBefore;
    // Each commit appends at least one frame (the build before: one per batch); on a loaded
    // machine some acknowledgements come after the hold, whose rows are then committed.
    expect(grown).toBeLessThan(30 * WAL_FRAME);
    expect(rowsOnDisk()).toBe(0);

    process.kill(brokerPid, "SIGSTOP");
    frozen = true;
    const unacknowledged = Array.from({ length: 20 }, (_, i) => 200 + i);
    for (const t of unacknowledged) await publish(t);
    // published to the frozen broker and held; when the hold (10 ms) runs out they are committed
    await waitUntil(() => rowsOnDisk() >= unacknowledged.length, 15_000, "the unacknowledged records on disk");
    const exited = new Promise((r) => gw!.proc.once("exit", r));
    gw.proc.kill("SIGKILL");
    await exited;
    gw = undefined;
    process.kill(brokerPid, "SIGCONT");
    frozen = false;
    gw = await startGatewayFrom("binary", files.configPath);
    await platform.harness.waitFor(() => unacknowledged.every((t) => temperatures().has(t)) || undefined, 30_000, "the 20 values after the restart");
    await waitUntil(() => rowsOnDisk() === 0, 15_000, "the delivered records removed from disk");
  } finally {
    if (frozen) process.kill(brokerPid, "SIGCONT");
    await gw?.stop();
    await dev.endAsync(true).catch(() => {});
  }
}, 150_000);
