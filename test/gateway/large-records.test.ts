// Device messages several times the payload limit, through the whole gateway: upstream's rest.json
// (host and port changed only) takes JSON array bodies of 1,000 rows per device (~60 KB of
// telemetry, one message of the converter per device); curl is the device, Mosquitto + the platform
// harness play ThingsBoard (session limits answered: 80 % of 65,536 bytes). Every row must reach
// the platform exactly once and whole: one entry per (device, ts) carrying both keys. Cutting a row
// between two records (upstream's rule) made the platform see it twice, as two half entries.

import { beforeAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FROM_BOTH, gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig, type GatewayFrom } from "../support/gateway.ts";
import { startMosquitto } from "../support/mosquitto.ts";
import { startPlatformHarness, type PlatformHarness } from "../support/platform.ts";
import { freePort } from "../support/ports.ts";
import type { Started } from "../support/process.ts";
import { curl } from "../../src/connectors/rest/test/curl.ts";
import { adaptedRestSample, withExtension } from "../../src/connectors/rest/test/sample.ts";

const DEVICES = 4;
const ROWS = 1000;
const POSTS = 2;
const T0 = 1_765_000_000_000;

beforeAll(() => void gatewayBinary(), 300_000);

/** Row i of device d: values that tell rows apart, so a row rebuilt from wrong halves shows. */
function row(d: number, i: number) {
  return { sensorName: `Meter ${d}`, sensorType: "meter", ts: T0 + i, temp: i / 10 + d, hum: (i * 7 + d) % 1000 };
}

interface Seen {
  /** Entries per `device@ts`. */
  entries: Map<string, Array<Record<string, unknown>>>;
  largestPublish: number;
  done: boolean;
}

function tally(h: PlatformHarness): Seen {
  const entries = new Map<string, Array<Record<string, unknown>>>();
  let largestPublish = 0;
  let done = false;
  for (const r of h.received) {
    if (r.topic !== "v1/gateway/telemetry") continue;
    largestPublish = Math.max(largestPublish, Buffer.byteLength(r.raw));
    for (const [device, list] of Object.entries(r.body as Record<string, Array<{ ts: number; values: Record<string, unknown> }>>)) {
      if (device === "Last meter") done = true;
      for (const e of list) {
        const key = `${device}@${e.ts}`;
        const at = entries.get(key);
        if (at) at.push(e.values);
        else entries.set(key, [e.values]);
      }
    }
  }
  return { entries, largestPublish, done };
}

const CASES: Array<{ from: GatewayFrom; storage: Record<string, unknown>; maxPayloadSizeBytes?: number; publishLimit: number }> = FROM_BOTH.flatMap((from) => [
  // upstream's default limit (8196, 90 % used): a message is cut into eight or more records
  { from, storage: { type: "memory", read_records_count: 100, max_records_count: 100_000 }, publishLimit: Math.floor(8196 * 0.9) },
  // the ODBC trial's setting: the configured limit (58,982) is above the session's (52,428)
  { from, storage: { type: "sqlite", data_file_path: "./data/", max_read_records_count: 1000 }, maxPayloadSizeBytes: 65536, publishLimit: Math.floor(65536 * 0.8) },
]);

/**
 * tb-gw with upstream's rest.json on a free port, and `post(body, name)` sending a JSON body to its
 * /my_devices endpoint (written to a file for curl). Returns once a first message was accepted: the
 * server listens once the connector started, shortly after the gateway's start line.
 */
async function startRestGateway(from: GatewayFrom, brokerPort: number, storage: Record<string, unknown>, tb: Record<string, unknown>): Promise<{ gw: Started; post: (body: unknown[], name: string) => Promise<void> }> {
  const restPort = await freePort();
  const dir = withExtension(mkdtempSync(join(tmpdir(), "tbgw-large-")));
  const files = writeGatewayConfig(mainConfig(brokerPort, storage, [{ name: "REST", type: "rest", configuration: "rest.json" }], tb), { "rest.json": adaptedRestSample(restPort, await freePort()) }, dir);
  const gw = await startGatewayFrom(from, files.configPath, { timeoutMs: 60_000 });
  const url = `http://127.0.0.1:${restPort}/my_devices`;
  const post = async (body: unknown[], name: string) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(body));
    const r = await curl(["-H", "Content-Type: application/json", "--data-binary", `@${path}`, url]);
    expect(r.status, r.body).toBe(200);
  };
  try {
    for (let tries = 0; ; tries++) {
      try {
        await post([{ sensorName: "First meter", temp: 1, hum: 1 }], "first.json");
        return { gw, post };
      } catch (e) {
        if (tries > 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await gw.stop();
    throw e;
  }
}

for (const c of CASES) {
  test(`${c.from}, ${c.storage.type} storage, maxPayloadSizeBytes ${c.maxPayloadSizeBytes ?? "default"}: rows of 1,000-row messages reach the platform once each, whole`, async () => {
    const broker = await startMosquitto();
    const harness = await startPlatformHarness(broker.url);
    let gw: Started | undefined;
    try {
      const tb = c.maxPayloadSizeBytes ? { maxPayloadSizeBytes: c.maxPayloadSizeBytes } : {};
      const started = await startRestGateway(c.from, broker.port, c.storage, tb);
      gw = started.gw;
      const post = started.post;
      for (let p = 0; p < POSTS; p++) {
        for (let d = 0; d < DEVICES; d++) await post(Array.from({ length: ROWS }, (_, i) => row(d, p * ROWS + i)), `body-${p}-${d}.json`);
      }
      // sent after everything else: once it arrived, whatever the earlier messages became has too
      await post([{ sensorName: "Last meter", temp: 1, hum: 1 }], "last.json");
      await harness.waitFor((h) => tally(h).done || undefined, 60_000, "the last meter's telemetry");

      const seen = tally(harness);
      expect(seen.largestPublish).toBeLessThanOrEqual(c.publishLimit);
      const halves: string[] = [];
      for (let d = 0; d < DEVICES; d++) {
        for (let i = 0; i < POSTS * ROWS; i++) {
          const r = row(d, i);
          const got = seen.entries.get(`Meter ${d}@${r.ts}`) ?? [];
          if (got.length !== 1) halves.push(`Meter ${d}@${r.ts}: ${JSON.stringify(got)}`);
          else expect(got[0]).toEqual({ temperature: r.temp, humidity: r.hum });
        }
      }
      expect(halves.slice(0, 5)).toEqual([]);
      expect(halves.length).toBe(0);
      expect(seen.entries.size).toBe(DEVICES * POSTS * ROWS + 2);
    } finally {
      await gw?.stop();
      await harness.close();
      await broker.dispose();
    }
  }, 180_000);
}

// One value larger than the platform accepts at all (here a 100 KB text; ThingsBoard closes the
// connection on a message above its max payload size, as Mosquitto does above max_packet_size):
// sent as it was, the platform dropped the connection, the gateway reconnected and sent the same
// batch again, for ever: every row before the value arrived again every half second, nothing after
// it ever did. The value is dropped with an error naming the device; everything else arrives once.
for (const from of FROM_BOTH) {
  test(`${from}: a value larger than the platform's payload limit is dropped with an error; the rows around it arrive once, without a reconnect`, async () => {
    const broker = await startMosquitto({ extraConfig: "max_packet_size 70000" });
    const harness = await startPlatformHarness(broker.url); // answers maxPayloadSize 65536
    let gw: Started | undefined;
    try {
      const started = await startRestGateway(from, broker.port, { type: "memory" }, { maxPayloadSizeBytes: 65536 });
      gw = started.gw;
      const post = started.post;
      const meter = (name: string) => Array.from({ length: 100 }, (_, i) => ({ sensorName: name, sensorType: "meter", ts: T0 + i, temp: i, hum: i }));
      await post([...meter("Meter A"), { sensorName: "Camera", sensorType: "camera", ts: T0, temp: "x".repeat(100_000), hum: 7 }, ...meter("Meter C")], "mixed.json");
      await post([{ sensorName: "Last meter", temp: 1, hum: 1 }], "last.json");
      await harness.waitFor((h) => tally(h).done || undefined, 30_000, "the last meter's telemetry");

      const seen = tally(harness);
      for (const name of ["Meter A", "Meter C"]) for (let i = 0; i < 100; i++) expect(seen.entries.get(`${name}@${T0 + i}`), `${name} row ${i}`).toEqual([{ temperature: i, humidity: i }]);
      // the camera's other key of that row still arrives, once
      expect(seen.entries.get(`Camera@${T0}`)).toEqual([{ humidity: 7 }]);
      const out = gw.output();
      expect(out).toMatch(/ERROR.*'temperature' of device 'Camera'.*larger than the platform accepts/);
      expect(out).not.toMatch(/not reachable|did not acknowledge/);
    } finally {
      await gw?.stop();
      await harness.close();
      await broker.dispose();
    }
  }, 180_000);
}
