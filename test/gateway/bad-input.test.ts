// A broken device floods the MQTT connector with garbage while good devices send 2,000
// datapoints/s: random bytes and truncated JSON on the good devices' own topics, and on other
// topics 1 MB payloads, values of the wrong type, JSON nested 10,000 deep and 50,000 deep, arrays
// of 100,000 numbers and of 5,000 objects. The gateway does not crash, its memory stays bounded,
// every good datapoint arrives in order, the dropped ones are counted in the connector statistics
// (status snapshot and the periodic statistics telemetry) and logged once per topic. Runs the
// compiled executable.

import { beforeAll, expect, test } from "bun:test";
import mqtt from "mqtt";
import { dirname } from "node:path";
import { fetchStatus, findSocket } from "../../src/observe/tail/client.ts";
import { gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../support/gateway.ts";
import { startMosquitto } from "../support/mosquitto.ts";
import { waitUntil } from "../support/poll.ts";
import type { Started } from "../support/process.ts";
import { seededRandom } from "../support/seeded-random.ts";
import { sampleRss, startSeqCounter, startSeqLoad, warmUpThrough } from "../support/seq-load.ts";
import { sensorConnector } from "./fixtures.ts";

const DEVICES = 10;

// the compiled executable users run (built once per test process)
beforeAll(() => {
  gatewayBinary();
}, 180_000);

interface Bad {
  topic: string;
  payload: Buffer | string;
  /** The connector must drop it (the rest is odd but convertible: wrong types stay text, as upstream). */
  dropped: boolean;
}

/** The garbage, seeded: `n` payloads, a few of each heavy kind. */
function garbage(n: number, seed: number): Bad[] {
  const random = seededRandom(seed);
  const int = (k: number) => Math.floor(random() * k);
  const out: Bad[] = [];
  const heavy: Bad[] = [
    { topic: "sensors/bad-mega", payload: Buffer.alloc(1 << 20, "x"), dropped: true },
    // converted, but a 1 MB value is more than the platform takes in one publish (65,536 bytes without
    // the session's answer): the sender drops it, counted for the connector (src/platform/oversized.ts)
    { topic: "sensors/bad-mega", payload: `{"k1":"${"y".repeat((1 << 20) - 10)}"}`, dropped: true },
    { topic: "sensors/bad-deep", payload: "[".repeat(50_000) + "]".repeat(50_000), dropped: true },
    { topic: "sensors/bad-deep", payload: '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000), dropped: true },
    { topic: "sensors/bad-array", payload: JSON.stringify(Array.from({ length: 100_000 }, (_, i) => i)), dropped: true },
    { topic: "sensors/bad-array", payload: JSON.stringify(Array.from({ length: 5_000 }, (_, i) => ({ k1: i }))), dropped: false },
  ];
  for (let i = 0; i < n; i++) {
    const kind = int(10);
    if (kind < 4) {
      // random bytes on a good device's topic
      const bytes = Buffer.alloc(1 + int(300));
      for (let j = 0; j < bytes.length; j++) bytes[j] = int(256);
      out.push({ topic: `sensors/dev-${int(DEVICES)}`, payload: bytes, dropped: true });
    } else if (kind < 7) {
      // a good message cut short
      const good = `{"seq":${1 + int(1000)},"k1":${int(1000)},"k2":3,"k3":4,"k4":1}`;
      out.push({ topic: `sensors/dev-${int(DEVICES)}`, payload: good.slice(0, 1 + int(good.length - 2)), dropped: true });
    } else if (kind < 9) {
      // the wrong types (kept as text by the converter, as upstream does)
      out.push({ topic: `sensors/bad-type-${int(3)}`, payload: JSON.stringify({ seq: "abc", k1: { nested: [1, 2] }, k2: [1, "x"], k3: null, k4: "1e999" }), dropped: false });
    } else {
      out.push({ topic: `sensors/bad-empty-${int(3)}`, payload: int(2) ? "{}" : "null", dropped: true });
    }
    if (i % Math.floor(n / (heavy.length * 3)) === 0) out.push(heavy[(i / Math.floor(n / (heavy.length * 3))) % heavy.length]!);
  }
  return out;
}

test("garbage flood mixed with good device data: no crash, bounded memory, every good datapoint, drops counted and logged once per topic", async () => {
  const device = await startMosquitto();
  const platform = await startMosquitto();
  const counter = await startSeqCounter(platform.url, DEVICES);
  const good = await mqtt.connectAsync(device.url, { clientId: "flood-good" });
  const broken = await mqtt.connectAsync(device.url, { clientId: "flood-broken" });
  const stats = await mqtt.connectAsync(platform.url, { clientId: "flood-stats" });
  let droppedInStats = 0;
  stats.on("message", (_t, payload) => {
    const body = JSON.parse(payload.toString());
    for (const e of Array.isArray(body) ? body : [body]) droppedInStats += e?.values?.connectorsStats?.Sensors?.dropped ?? 0;
  });
  await stats.subscribeAsync("v1/devices/me/telemetry", { qos: 1 });
  let gw: Started | undefined;
  try {
    const statistics = { enable: true, statsSendPeriodInSeconds: 10, customStatsSendPeriodInSeconds: 3600 };
    const files = writeGatewayConfig(mainConfig(platform.port, { type: "sqlite", data_file_path: "./data/" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }], { statistics }), {
      "sensors.json": sensorConnector(device.port),
    });
    gw = await startGatewayFrom("binary", files.configPath);
    const rss = sampleRss(gw.proc.pid!, 250);
    await warmUpThrough(good, counter);
    const load = startSeqLoad(good, DEVICES, 400);
    const bad = garbage(4000, 17);
    // ~20 s of flood at ~200 bad messages/s beside the 400 good ones
    const started = Date.now();
    for (let i = 0; i < bad.length; i++) {
      const b = bad[i]!;
      broken.publish(b.topic, b.payload as Buffer, { qos: 1 });
      const due = started + (i / 200) * 1000 - Date.now();
      if (due > 0) await new Promise((r) => setTimeout(r, due));
    }
    await load.stop();
    const final = load.lastSeq();
    await counter.until(() => counter.complete(final), 60_000, "every good datapoint").catch((e) => {
      throw new Error(`${counter.missing(final)}\n${gw!.output().slice(-3000)}\n${e.message}`);
    });
    expect(counter.outOfOrder).toBe(0);
    expect(gw.proc.exitCode).toBeNull();
    // every message that had to be dropped is counted (none of the good ones)
    const mustDrop = bad.filter((b) => b.dropped).length;
    // the good data being complete does not mean the last garbage is through: the broken client's
    // final publishes (and a converted 1 MB record the sender drops later) may still be on their way
    // on a loaded machine, so the count is read until it stops short of the total no longer
    const socket = findSocket({ configDir: dirname(files.configPath) });
    const droppedNow = async () => (await fetchStatus(socket)).connectors.find((c) => c.name === "Sensors")!.dropped;
    let dropped = -1;
    // a wait that runs out is not the failure itself: the exact count is asserted below, with its value
    await waitUntil(async () => (dropped = await droppedNow()) >= mustDrop, 20_000, `${mustDrop} dropped`, 200).catch(() => {});
    expect(dropped).toBe(mustDrop);
    // the periodic statistics telemetry carries the same count (per period; summed here)
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`statistics counted ${droppedInStats} dropped of ${mustDrop}`)), 25_000);
      const check = () => {
        if (droppedInStats < mustDrop) return;
        clearTimeout(t);
        stats.off("message", check);
        resolve();
      };
      stats.on("message", check);
      check();
    });
    expect(droppedInStats).toBe(mustDrop);
    rss.stop();
    // logged once per topic: the flood lasted less than the 60 s quiet period that ends an episode
    const out = gw.output();
    const firstLines = [...out.matchAll(/dropped message on (\S+):/g)].map((m) => m[1]!);
    expect(firstLines.length).toBe(new Set(firstLines).size);
    expect(firstLines.length).toBeLessThanOrEqual(DEVICES + 10);
    console.log(`${bad.length} bad messages (${mustDrop} dropped), ${counter.distinct} good ones delivered; ${firstLines.length} drop lines; gateway RSS peak ${rss.peak().toFixed(0)} MB`);
    expect(rss.peak()).toBeLessThan(400);
  } finally {
    await gw?.stop();
    await Promise.all([good.endAsync(true), broken.endAsync(true), stats.endAsync(true)]).catch(() => {});
    await counter.close();
    await device.dispose();
    await platform.dispose();
  }
}, 120_000);
