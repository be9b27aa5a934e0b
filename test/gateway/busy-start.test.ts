// A gateway busy before its start-up is over (data from the first second) is shrunk as it turns
// busy, before its data path is JIT-compiled, rather than 3 s after start, which threw the freshly
// compiled data path away (src/run/shrink-after-start.ts). Here the compiled executable, an MQTT
// connector in upstream's format and QoS 1 device load from the first moment: the shrink and the
// release of start-up code pages then happen while data flows, and every message must still reach
// the platform once, in order per device.

import mqtt from "mqtt";
import { beforeAll, expect, test } from "bun:test";
import { gatewayBinary, mainConfig, startGatewayBinary, writeGatewayConfig } from "../support/gateway.ts";
import { startMosquitto } from "../support/mosquitto.ts";
import { waitUntil } from "../support/poll.ts";
import { startSeqCounter, startSeqLoad, warmUpThrough } from "../support/seq-load.ts";
import type { Started } from "../support/process.ts";
import { sensorConnector } from "./fixtures.ts";

const DEVICES = 10;
/** Messages a second: BUSY_RECORDS (1,000) are stored within the first second. */
const RATE = 2000;
const BUSY_LINE = /data flows before start-up is over: start-up memory released now/;

beforeAll(() => void gatewayBinary(), 300_000);

test("busy from its first seconds: shrunk as it turns busy; every message delivered once, in order", async () => {
  const device = await startMosquitto();
  const platform = await startMosquitto();
  const counter = await startSeqCounter(platform.url, DEVICES);
  const dev = await mqtt.connectAsync(device.url, { clientId: "busy-start-devices" });
  let gw: Started | undefined;
  try {
    const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), {
      "sensors.json": sensorConnector(device.port),
    });
    // the 3 s shrink of an idle gateway put out of the way: on a loaded machine it could come
    // before the gateway counts as busy, and this test is about the shrink at busy
    gw = await startGatewayBinary(files.configPath, ["--log-level", "DEBUG"], { TB_GW_STARTUP_SHRINK_MS: "600000" });
    await warmUpThrough(dev, counter);
    const load = startSeqLoad(dev, DEVICES, RATE);
    await waitUntil(() => BUSY_LINE.test(gw!.output()), 30_000, "the shrink as the gateway turns busy");
    const atShrink = load.sent;
    await waitUntil(() => load.sent >= atShrink + RATE, 30_000, "a second more of load after the shrink");
    await load.stop();
    const sent = load.lastSeq();
    await counter.until(() => counter.complete(sent), 60_000, "every message at the platform");
    expect(counter.tally(sent)).toMatchObject({ lost: 0, duplicates: 0, outOfOrder: 0 });
    expect(gw.output().match(/code pages unmapped/g)?.length).toBe(1); // once (the timer's is called off: unit test)
  } finally {
    await gw?.stop();
    await dev.endAsync(true).catch(() => {});
    await counter.close();
    await platform.dispose();
    await device.dispose();
  }
}, 120_000);
