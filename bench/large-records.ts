// Device messages far above the payload limit through the whole gateway: the REST connector (or,
// with --via mqtt, the MQTT connector from a device broker) takes JSON arrays of --rows rows per
// device (one converted message of ~60 bytes a row, e.g. ~60 KB for 1,000), stores them, and sends them to Mosquitto + a counting platform. Counts, per (device,
// ts), every row the platform got: rows lost, rows that came as more than one entry (a row cut in
// two halves, or resent), and data points that came twice (a real duplicate). Also the publishes
// and the gateway's CPU. Usage:
//   bun bench/large-records.ts [--rows 1000] [--devices 10] [--messages 20] [--storage memory,sqlite,file]
//                              [--payload 8196,65536] [--via rest|mqtt] [--binary dist/tb-gw]
// --payload is thingsboard.maxPayloadSizeBytes (90 % used; the platform's session answer caps it at
// 80 % of 65,536). Without a duplicate the last three counts are 0.

import mqtt from "mqtt";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { countPlatform, option, startBenchGateway, type PlatformCounter } from "./support.ts";
import { cpuSeconds } from "./proc.ts";
import { benchStorage } from "./storage-config.ts";
import { mainConfig, writeGatewayConfig } from "../test/support/gateway.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { freePort } from "../test/support/ports.ts";
import type { Started } from "../test/support/process.ts";

const ROWS = Number(option("rows", "1000"));
const DEVICES = Number(option("devices", "10"));
const MESSAGES = Number(option("messages", "20"));
const KINDS = option("storage", "memory,sqlite,file").split(",");
const PAYLOADS = option("payload", "8196,65536").split(",").map(Number);
const BINARY = option("binary", "");
const VIA = option("via", "rest");
const T0 = 1_765_000_000_000;

const CONVERTER = {
  type: "json",
  deviceInfo: { deviceNameExpressionSource: "message", deviceNameExpression: "${device}", deviceProfileExpressionSource: "constant", deviceProfileExpression: "meter" },
  attributes: [],
  timeseries: [
    { type: "integer", key: "seq", value: "${seq}" },
    { type: "double", key: "temperature", value: "${temp}" },
    { type: "double", key: "humidity", value: "${hum}" },
  ],
};

function restConfig(port: number) {
  return {
    server: { host: "127.0.0.1", port, SSL: false },
    mapping: [{ endpoint: "/rows", HTTPMethods: ["POST"], security: { type: "anonymous" }, converter: { ...CONVERTER, deviceInfo: { ...CONVERTER.deviceInfo, deviceNameExpressionSource: "request" } } }],
  };
}

function mqttConfig(port: number) {
  return {
    broker: { host: "127.0.0.1", port, clientId: "large-records-gw", version: 4, security: { type: "anonymous" } },
    mapping: [{ topicFilter: "rows/+", subscriptionQos: 1, converter: CONVERTER }],
  };
}

/** Sends one array body the way --via says: POST to the REST connector, or a QoS 1 publish to the device broker. */
type Send = (device: number, body: unknown[]) => Promise<void>;

async function restSender(port: number): Promise<Send> {
  const url = `http://127.0.0.1:${port}/rows`;
  return async (_device, body) => {
    for (let tries = 0; ; tries++) {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).catch((e: unknown) => e as Error);
      if (!(r instanceof Error) && r.ok) return;
      // the REST server starts listening shortly after the gateway's start line
      if (tries > 100) throw new Error(`POST ${url} failed: ${r instanceof Error ? r.message : r.status}`);
      await Bun.sleep(100);
    }
  };
}

async function run(kind: string, payload: number): Promise<void> {
  const broker = await startMosquitto();
  let gw: Started | undefined;
  let counter: PlatformCounter | undefined;
  try {
    const entriesPerRow = new Map<string, number>();
    const datapoints = new Set<string>();
    let rowAgain = 0;
    let probeSeen = false;
    let datapointAgain = 0;
    let publishes = 0;
    let largest = 0;
    counter = await countPlatform<Record<string, number>>(broker.url, "bench-platform", (body) => {
      publishes++;
      largest = Math.max(largest, Buffer.byteLength(JSON.stringify(body)));
      for (const [device, entries] of Object.entries(body)) {
        if (device === "Probe") {
          probeSeen = true;
          continue;
        }
        for (const e of entries) {
          const row = `${device}@${e.ts}`;
          const n = (entriesPerRow.get(row) ?? 0) + 1;
          entriesPerRow.set(row, n);
          if (n > 1) rowAgain++;
          for (const key in e.values) {
            const dp = `${row}/${key}`;
            if (datapoints.has(dp)) datapointAgain++;
            else datapoints.add(dp);
          }
        }
      }
    });
    const dir = mkdtempSync(join(tmpdir(), "tbgw-large-bench-"));
    const port = VIA === "mqtt" ? (deviceBroker ??= await startMosquitto()).port : await freePort();
    const connector = VIA === "mqtt" ? { name: "Rows", type: "mqtt", configuration: "mqtt.json" } : { name: "Rows", type: "rest", configuration: "rest.json" };
    const files = writeGatewayConfig(mainConfig(broker.port, benchStorage(kind), [connector], { maxPayloadSizeBytes: payload }), { "rest.json": restConfig(port), "mqtt.json": mqttConfig(port) }, dir);
    gw = await startBenchGateway(files.configPath, { binary: BINARY, env: { TB_GW_LOG_LEVEL: "WARNING" } });
    let device: mqtt.MqttClient | undefined;
    let send: Send;
    if (VIA === "mqtt") {
      device = await mqtt.connectAsync(deviceBroker!.url, { clientId: `large-records-device-${kind}-${payload}` });
      // the connector subscribes after the start line: a probe until its row shows on the platform
      const probe = [{ device: "Probe", ts: T0, seq: 0, temp: 0, hum: 0 }];
      while (!probeSeen) {
        await device.publishAsync("rows/probe", JSON.stringify(probe), { qos: 1 });
        await Bun.sleep(200);
      }
      const client = device;
      send = async (d, body) => void (await client.publishAsync(`rows/${d}`, JSON.stringify(body), { qos: 1 }));
    } else send = await restSender(port);
    const cpu0 = cpuSeconds(gw.proc.pid!);
    const t0 = performance.now();
    for (let m = 0; m < MESSAGES; m++) {
      for (let d = 0; d < DEVICES; d++) {
        const body = Array.from({ length: ROWS }, (_, i) => {
          const seq = m * ROWS + i;
          return { device: `Meter ${d}`, ts: T0 + seq, seq, temp: seq / 10 + d, hum: (seq * 7 + d) % 1000 };
        });
        await send(d, body);
      }
    }
    const total = MESSAGES * DEVICES * ROWS;
    let quietSince = performance.now();
    let last = -1;
    // until every row arrived and 2 s passed without any more telemetry (late resends would show)
    while (performance.now() - quietSince < (entriesPerRow.size >= total ? 2000 : 30_000)) {
      if (entriesPerRow.size + rowAgain !== last) {
        last = entriesPerRow.size + rowAgain;
        quietSince = performance.now();
      }
      await Bun.sleep(50);
    }
    await device?.endAsync();
    const ms = counter.lastAt() - t0;
    const cpu = cpuSeconds(gw.proc.pid!) - cpu0;
    console.log(
      `${VIA} ${kind.padEnd(6)} maxPayloadSizeBytes ${String(payload).padStart(6)}: ${total.toLocaleString("en-US")} rows in ${MESSAGES * DEVICES} messages of ${ROWS}; ` +
        `lost ${total - entriesPerRow.size}, rows in more than one entry ${rowAgain}, data points twice ${datapointAgain}; ` +
        `${publishes} publishes (largest ${largest} B), ${Math.round((total / ms) * 1000).toLocaleString("en-US")} rows/s, gateway ${((cpu / total) * 1e6).toFixed(1)} core-µs per row`,
    );
  } finally {
    await gw?.stop();
    await counter?.close();
    await broker.dispose();
  }
}

let deviceBroker: Awaited<ReturnType<typeof startMosquitto>> | undefined;
for (const kind of KINDS) for (const payload of PAYLOADS) await run(kind, payload);
await deviceBroker?.dispose();
process.exit(0);
