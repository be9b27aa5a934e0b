// Shared set-up for the end-to-end gateway tests: a device-side broker, a platform-side broker
// with the harness playing the platform, and an MQTT connector config in upstream format.

import mqtt, { type MqttClient } from "mqtt";
import { startInHooks } from "../support/hooks.ts";
import { startMosquitto, type Broker } from "../support/mosquitto.ts";
import { startPlatformHarness, type PlatformHarness } from "../support/platform.ts";

export interface World {
  device: Broker;
  platform: Broker;
  harness: PlatformHarness;
  deviceClient: MqttClient;
  dispose(): Promise<void>;
}

export async function startWorld(opts: { persistent?: boolean; answerSessionLimits?: boolean; sessionLimits?: Record<string, unknown> } = {}): Promise<World> {
  const device = await startMosquitto({ persistent: opts.persistent });
  const platform = await startMosquitto({ persistent: opts.persistent });
  const harness = await startPlatformHarness(platform.url, { answerSessionLimits: opts.answerSessionLimits, sessionLimits: opts.sessionLimits, persistent: opts.persistent });
  const deviceClient = await mqtt.connectAsync(device.url, { clientId: `device-sim-${Math.random().toString(16).slice(2)}` });
  return {
    device,
    platform,
    harness,
    deviceClient,
    async dispose() {
      await deviceClient.endAsync(true).catch(() => {});
      await harness.close().catch(() => {});
      await device.dispose();
      await platform.dispose();
    },
  };
}

/** startWorld's fields, valid inside tests; `beforeDispose` as for platformForFile. */
export type FileWorld = Omit<World, "dispose"> & { beforeDispose(stop: () => unknown): void };

/** A world for the tests of this file (or describe block): started in beforeAll, disposed in afterAll. */
export function worldForFile(opts: Parameters<typeof startWorld>[0] = {}): FileWorld {
  const started = startInHooks("worldForFile", "file", () => startWorld(opts), (w) => w.dispose());
  return {
    get device() {
      return started.current().device;
    },
    get platform() {
      return started.current().platform;
    },
    get harness() {
      return started.current().harness;
    },
    get deviceClient() {
      return started.current().deviceClient;
    },
    beforeDispose: started.beforeDispose,
  };
}

/** An upstream-format MQTT connector config reading sensors/<name> JSON messages. */
export function sensorConnector(port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    broker: { name: "Device broker", host: "127.0.0.1", port, clientId: `tbgw-test-${Math.random().toString(16).slice(2, 10)}`, version: 4, security: { type: "anonymous" }, ...((extra.broker as object) ?? {}) },
    mapping: [
      {
        topicFilter: "sensors/+",
        subscriptionQos: 1,
        converter: {
          type: "json",
          deviceInfo: {
            deviceNameExpressionSource: "topic",
            deviceNameExpression: "sensors/(.*)",
            deviceProfileExpressionSource: "constant",
            deviceProfileExpression: "thermometer",
          },
          attributes: [{ type: "string", key: "model", value: "${model}" }],
          timeseries: [
            { type: "double", key: "temperature", value: "${temperature}" },
            { type: "integer", key: "seq", value: "${seq}" },
            { type: "integer", key: "k1", value: "${k1}" },
            { type: "integer", key: "k2", value: "${k2}" },
            { type: "integer", key: "k3", value: "${k3}" },
            { type: "integer", key: "k4", value: "${k4}" },
          ],
        },
      },
    ],
    requestsMapping: {
      attributeUpdates: [{ deviceNameFilter: ".*", attributeFilter: ".*", topicExpression: "sensors/${deviceName}/attrs", valueExpression: '{"${attributeKey}":${attributeValue}}' }],
      serverSideRpc: [
        {
          type: "twoWay",
          deviceNameFilter: ".*",
          methodFilter: "echo",
          requestTopicExpression: "sensors/${deviceName}/rpc/${requestId}",
          responseTopicExpression: "sensors/${deviceName}/rpc-reply/${requestId}",
          responseTimeout: 5000,
          valueExpression: "${params}",
        },
      ],
    },
  };
}

/** Per device, the `seq` values in platform arrival order. */
export function seqByDevice(h: PlatformHarness): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const row of h.telemetry()) {
    if (row.key !== "seq") continue;
    let l = out.get(row.device);
    if (!l) out.set(row.device, (l = []));
    l.push(Number(row.value));
  }
  return out;
}

/** First occurrences only (resends after an outage may duplicate): must be strictly increasing. */
export function firstOccurrences(seqs: number[]): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (const s of seqs) {
    if (seen.has(s)) continue;
    seen.add(s);
    out.push(s);
  }
  return out;
}

/**
 * Publish a `{seq: 0}` message as `device` until the platform shows its telemetry: the connector
 * has then subscribed (it does so only after start).
 */
export async function warmUp(world: World, device = "warm-up"): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await world.deviceClient.publishAsync(`sensors/${device}`, JSON.stringify({ seq: 0 }), { qos: 1 });
    try {
      await world.harness.waitFor((h) => h.telemetry().some((r) => r.device === device), 300, `${device} telemetry`);
      return;
    } catch {
      // not subscribed yet
    }
  }
  throw new Error(`no telemetry of ${device} reached the platform`);
}
