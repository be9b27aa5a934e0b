// The system clock stepped back an hour and then forward a day while the gateway runs under
// device load (1,000 datapoints/s, sqlite, the platform away across the forward step): the
// gateway's wall clock is faked with libfaketime and stepped at run time, its monotonic clock is
// the real one, as with an NTP or operator step. What is documented (README "Delivery guarantees"):
// timestamps follow the system clock (data stamped at reception carries the stepped time);
// report periods keep their length (ON_REPORT_PERIOD resends go on every period, not silenced for
// the hour, not expired by the day); stored records are neither lost nor purged by a step shorter
// than messages_ttl_in_days; every datapoint arrives in order. Runs the compiled executable.

import { beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { fakeClock, faketimeUnavailable } from "../support/faketime.ts";
import { startSeqLoad } from "../support/seq-load.ts";
import { firstOccurrences, sensorConnector, seqByDevice, startWorld, warmUp } from "./fixtures.ts";

const skip = faketimeUnavailable();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DEVICES = 10;

// the compiled executable users run (built once per test process)
beforeAll(() => {
  if (!skip) gatewayBinary();
}, 180_000);

test.skipIf(skip !== undefined)(`clock stepped back 1 h and forward 1 day under load: periods kept, timestamps follow the clock, nothing lost${skip ? ` — skipped: ${skip}` : ""}`, async () => {
  const world = await startWorld({ persistent: true });
  const clock = fakeClock();
  let gw: Started | undefined;
  try {
    const connector = sensorConnector(world.device.port);
    // a second mapping whose values are resent every second (ON_REPORT_PERIOD)
    (connector.mapping as unknown[]).push({
      topicFilter: "periodic/+",
      subscriptionQos: 1,
      converter: {
        type: "json",
        deviceInfo: { deviceNameExpressionSource: "topic", deviceNameExpression: "periodic/(.*)" },
        reportStrategy: { type: "ON_REPORT_PERIOD", reportPeriod: 1000 },
        timeseries: [{ type: "double", key: "temperature", value: "${temperature}" }],
      },
    });
    // expired records are looked for every 1.8 s; kept 7 days
    const storage = { type: "sqlite", data_file_path: "./data/", messages_ttl_check_in_hours: 0.0005, messages_ttl_in_days: 7 };
    const dir = mkdtempSync(join(tmpdir(), "tbgw-clock-"));
    const files = writeGatewayConfig(mainConfig(world.platform.port, storage, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }]), { "sensors.json": connector }, dir);
    gw = await startGatewayFrom("binary", files.configPath, { env: clock.env });
    await warmUp(world);
    const load = startSeqLoad(world.deviceClient, DEVICES, 200);
    await world.deviceClient.publishAsync("periodic/p1", JSON.stringify({ temperature: 21.5 }), { qos: 1 });
    const periodic = (pred: (ts: number) => boolean) => world.harness.telemetry().filter((r) => r.device === "p1" && pred(r.ts)).length;
    await world.harness.waitFor(() => periodic(() => true) >= 3, 15_000, "periodic resends before the steps");

    // back an hour: resends go on every second, stamped an hour earlier
    clock.set("-1h");
    const beforeBack = periodic(() => true);
    await world.harness.waitFor(() => periodic((ts) => Math.abs(ts - (Date.now() - HOUR)) < 60_000) >= 3, 15_000, "periodic resends an hour back");
    // device data stamped at reception carries the stepped clock too (as upstream: no correction)
    expect(world.harness.telemetry().some((r) => r.device.startsWith("dev-") && Math.abs(r.ts - (Date.now() - HOUR)) < 60_000)).toBe(true);

    // platform away while the clock jumps a day ahead: held records are not purged as expired
    await world.platform.stop();
    clock.set("+1d");
    await new Promise((r) => setTimeout(r, 6000)); // the outage: three looks for expired records
    await world.platform.start();
    await world.harness.waitFor(() => periodic((ts) => Math.abs(ts - (Date.now() + DAY)) < 60_000) >= 3, 20_000, "periodic resends a day ahead");
    await load.stop();
    const final = load.lastSeq();
    await world.harness.waitFor(
      (h) => {
        const seqs = seqByDevice(h);
        return final.every((n, d) => new Set(seqs.get(`dev-${d}`) ?? []).size >= n);
      },
      60_000,
      "every datapoint after the steps",
    );
    const seqs = seqByDevice(world.harness);
    for (let d = 0; d < DEVICES; d++) {
      expect(firstOccurrences(seqs.get(`dev-${d}`)!), `dev-${d}`).toEqual(Array.from({ length: final[d]! }, (_, i) => i + 1));
    }
    expect(gw.output()).not.toMatch(/purged \d+ records/);
    expect(gw.proc.exitCode).toBeNull();
    console.log(`clock steps: ${final.reduce((a, b) => a + b, 0)} messages in order; periodic resends ${beforeBack} before, ${periodic(() => true) - beforeBack} after the steps`);
  } finally {
    await gw?.stop();
    await world.dispose();
  }
}, 120_000);
