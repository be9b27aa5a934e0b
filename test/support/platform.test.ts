// platformForFile / platformForEachTest: the handle's fields are there inside tests (a real broker
// with the harness on it), not before; a fresh platform per test where asked; what beforeDispose
// stops goes before the broker does.

import { afterEach, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import { platformForEachTest, platformForFile, type TestPlatform } from "./platform.ts";

/** Sends one telemetry message to the platform broker as a gateway would, and waits for the harness to see it. */
async function sendTelemetry(p: TestPlatform, device: string): Promise<void> {
  const client = await mqtt.connectAsync(p.url);
  try {
    await client.publishAsync("v1/gateway/telemetry", JSON.stringify({ [device]: [{ ts: 1, values: { t: 1 } }] }), { qos: 1 });
  } finally {
    await client.endAsync();
  }
  await p.harness.waitFor((h) => h.telemetry().some((r) => r.device === device), 10_000, `${device} telemetry`);
}

const file = platformForFile({ deviceBroker: true });
let beforeStart = "";
try {
  void file.port;
} catch (e) {
  beforeStart = (e as Error).message;
}

describe("platformForFile", () => {
  test("read before the hooks ran, a field says where it starts", () => {
    expect(beforeStart).toContain("platformForFile(): not running (it starts in the test hooks");
  });

  test("inside a test: a running broker, the harness on it, and the device broker asked for", async () => {
    expect(file.port).toBe(file.broker.port);
    expect(file.url).toBe(`mqtt://127.0.0.1:${file.port}`);
    expect(file.device.port).not.toBe(file.port);
    expect(file.device.pid).toBeNumber();
    await sendTelemetry(file, "file-level");
  });
});

describe("platformForEachTest", () => {
  const each = platformForEachTest();
  const seenBrokers = new Set<object>();
  let stoppedWhileBrokerRan: boolean | undefined;
  // registered after the helper's afterEach, so it runs after the platform went
  afterEach(() => {
    if (stoppedWhileBrokerRan !== undefined) expect(stoppedWhileBrokerRan).toBe(true);
  });

  for (const n of [1, 2]) {
    test(`test ${n}: a broker and harness of its own (nothing from the other test)`, async () => {
      expect(seenBrokers.has(each.broker)).toBe(false);
      seenBrokers.add(each.broker);
      expect(each.harness.received.filter((r) => r.topic === "v1/gateway/telemetry")).toEqual([]);
      await sendTelemetry(each, `each-${n}`);
      const broker = each.broker;
      each.beforeDispose(() => {
        stoppedWhileBrokerRan = broker.pid !== undefined;
      });
      expect(() => each.device).toThrow("ask for one with platformForFile({ deviceBroker: true })");
    });
  }
});
