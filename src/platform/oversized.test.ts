// Publishes larger than the platform accepts: the size test counts the whole PUBLISH packet in
// bytes (multi-byte text too), the drop names device and keys, once a minute per device at most;
// and the limit without a session answer is ThingsBoard's default unless configured higher.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { ThingsboardSchema } from "../config/main-schema.ts";
import { addLogSink, Logger, setStderrLogging, type LogRecord } from "../observe/logger.ts";
import { describe as describeDrop, OversizedLog, tooLarge } from "./oversized.ts";
import { buildPublishes } from "./packing.ts";
import { applySessionLimits, platformPayloadLimit } from "./session-limits.ts";
import { toRecords } from "../core/records.ts";

beforeAll(() => setStderrLogging(false));
afterAll(() => setStderrLogging(true));

const pub = (topic: string, payload: string) => ({ topic, payload, datapoints: 1, telemetry: true });

test("the whole packet counts, in bytes: topic and 9 bytes of header besides the payload", () => {
  const topic = "v1/gateway/telemetry";
  const limit = 1000;
  const room = limit - topic.length - 9;
  expect(tooLarge(pub(topic, "a".repeat(room)), limit)).toBe(false);
  expect(tooLarge(pub(topic, "a".repeat(room + 1)), limit)).toBe(true);
  // 'é' is two bytes: half as many characters fill it
  expect(tooLarge(pub(topic, "é".repeat(Math.floor(room / 2))), limit)).toBe(false);
  expect(tooLarge(pub(topic, "é".repeat(Math.floor(room / 2) + 1)), limit)).toBe(true);
  expect(tooLarge(pub(topic, "€".repeat(Math.floor(room / 3))), limit)).toBe(false);
  expect(tooLarge(pub(topic, "€".repeat(Math.floor(room / 3) + 1)), limit)).toBe(true);
});

test("an oversized value gets a publish of its own: only it is dropped, its neighbours and its row's other keys stay", () => {
  const records = [
    ...toRecords({ deviceName: "Meter", telemetry: [{ ts: 1, values: { a: 1 } }] }, "t", 0, 52428),
    ...toRecords({ deviceName: "Camera", attributes: { fw: "2" }, telemetry: [{ ts: 2, values: { image: "x".repeat(70_000), size: 7 } }] }, "t", 0, 52428),
    ...toRecords({ deviceName: "Meter", telemetry: [{ ts: 3, values: { a: 3 } }] }, "t", 0, 52428),
  ];
  const pubs = buildPublishes(records, 52428, (n) => n);
  const big = pubs.filter((p) => tooLarge(p, 65536));
  expect(big).toHaveLength(1);
  expect(describeDrop(big[0]!)).toEqual([{ device: "Camera", keys: ["image"] }]);
  const kept = pubs.filter((p) => !tooLarge(p, 65536)).map((p) => JSON.parse(p.payload));
  expect(kept).toHaveLength(3);
  expect(kept).toContainEqual({ Meter: [{ ts: 1, values: { a: 1 } }, { ts: 3, values: { a: 3 } }] });
  expect(kept).toContainEqual({ Camera: [{ ts: 2, values: { size: 7 } }] });
  expect(kept).toContainEqual({ Camera: { fw: "2" } });
});

test("describe: attributes, the gateway's own topics", () => {
  expect(describeDrop(pub("v1/gateway/attributes", JSON.stringify({ Pump: { blob: "x" } })))).toEqual([{ device: "Pump", keys: ["blob"] }]);
  expect(describeDrop(pub("v1/devices/me/telemetry", JSON.stringify([{ ts: 1, values: { dump: "x" } }])))).toEqual([{ device: "currentThingsBoardGateway", keys: ["dump"] }]);
  expect(describeDrop(pub("v1/devices/me/attributes", JSON.stringify({ cfg: "x" })))).toEqual([{ device: "currentThingsBoardGateway", keys: ["cfg"] }]);
});

test("one error per device a minute at most, saying what to raise", () => {
  const lines: LogRecord[] = [];
  const off = addLogSink((r) => lines.push(r));
  try {
    const log = new OversizedLog(new Logger("oversized-test"));
    const camera = pub("v1/gateway/telemetry", JSON.stringify({ Camera: [{ ts: 1, values: { image: "x".repeat(100) } }] }));
    for (let i = 0; i < 5; i++) log.dropped(camera, 50);
    log.dropped(pub("v1/gateway/telemetry", JSON.stringify({ Other: [{ ts: 1, values: { a: "x", b: "y" } }] })), 50);
    const mine = lines.filter((l) => l.scope === "oversized-test");
    expect(mine.map((l) => l.level)).toEqual(["ERROR", "ERROR"]);
    expect(mine[0]!.message).toMatch(new RegExp(`^dropped the value of 'image' of device 'Camera': ${camera.payload.length} bytes in one message, larger than the platform accepts \\(50 bytes.*raise the platform's MQTT payload limit and thingsboard\\.maxPayloadSizeBytes$`));
    expect(mine[1]!.message).toContain("the values of 'a', 'b' of device 'Other'");
  } finally {
    off();
  }
});

test("the platform's limit: its answer; without one ThingsBoard's default 65536, or maxPayloadSizeBytes when higher", () => {
  const tb = (n: number) => ThingsboardSchema.parse({ host: "h", port: 1, security: { type: "accessToken", accessToken: "t" }, maxPayloadSizeBytes: n });
  expect(platformPayloadLimit(tb(8196))).toBe(65536);
  expect(platformPayloadLimit(tb(200_000))).toBe(200_000);
  expect(platformPayloadLimit(tb(8196), 10_000)).toBe(10_000);
  const limits = { maxPayloadBytes: 0, platformPayloadBytes: 0, maxInflight: 1, rateLimits: {} };
  const log = new Logger("limits-test", "NONE");
  applySessionLimits(limits, { maxPayloadSize: 20_000 }, tb(8196), log);
  expect(limits.platformPayloadBytes).toBe(20_000);
  // the next session does not answer: back to the default
  applySessionLimits(limits, undefined, tb(8196), log);
  expect(limits.platformPayloadBytes).toBe(65536);
});
