// A custom OCPP uplink converter (upstream's `chargePoints[].extension`) from
// <config folder>/extensions/ocpp/, with the hand-written Python charge point as the peer: built
// with the chargePoints entry, called with ({deviceName, deviceType, messageType, profile}, message
// in snake_case); its data is stored before the CALL is answered; a message it throws on is still
// answered, its data dropped and the error logged once; a missing class is one error at start.

import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingContext } from "../../../test/support/context.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { freePort } from "../../../test/support/ports.ts";
import { addLogSink, type LogRecord } from "../../observe/logger.ts";
import { OcppConnector } from "./connector.ts";
import { OcppConfigSchema } from "./schema.ts";
import { startPyChargePoint } from "./test/peer.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const CONVERTER = `
export class EnergyOcppConverter {
  constructor(config) { this.prefix = config.deviceTypeExpression; }
  convert(config, data) {
    if (config.messageType !== "MeterValues") return null;
    const sampled = data.meter_value[0].sampled_value;
    if (sampled[0].unit === "bad") throw new Error("unit bad on connector " + data.connector_id);
    return { deviceName: config.deviceName, deviceType: config.deviceType,
      attributes: [{ pattern: config.profile.idRegexpPattern }],
      telemetry: [{ ts: 1700000000000, values: { ["energy_" + data.connector_id]: sampled[0].value * 1000 } }] };
  }
}
`;

test("chargePoints[].extension names a class in extensions/ocpp: MeterValues through it; its errors once; a missing class is one error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-ocpp-ext-"));
  mkdirSync(join(dir, "extensions", "ocpp"), { recursive: true });
  writeFileSync(join(dir, "extensions", "ocpp", "energy.ts"), CONVERTER);
  const raw = JSON.parse(readFileSync(join(SAMPLES, "ocpp.json"), "utf8"));
  raw.centralSystem.port = await freePort();
  raw.chargePoints[0].extension = "EnergyOcppConverter";
  raw.chargePoints.push({ ...raw.chargePoints[0], idRegexpPattern: "ghost/.*", extension: "NoSuchOcppConverter" });
  const ctx = recordingContext({ name: "OCPP custom", type: "ocpp", configDir: dir });
  const logs: LogRecord[] = [];
  const off = addLogSink((r) => r.scope.includes("OCPP custom") && logs.push(r));
  cleanups.push(off);
  const conn = new OcppConnector(OcppConfigSchema.parse(raw), ctx);
  await conn.start();
  cleanups.push(() => conn.stop());
  const cp = startPyChargePoint(`ws://127.0.0.1:${raw.centralSystem.port}/bidon/hello/CP_1`, { auth: "Bearer ACCESS_TOKEN" });
  cleanups.push(() => cp.stop());
  await cp.line(/^OPEN ocpp1\.6$/, "the handshake");
  expect((await cp.call("b1", "BootNotification", { chargePointVendor: "Acme", chargePointModel: "W7" }))[2]).toMatchObject({ status: "Accepted" });
  const meter = (unit: string, value: string) => ({ connectorId: 2, meterValue: [{ timestamp: "2026-12-07T02:00:00Z", sampledValue: [{ value, unit }] }] });
  expect(await cp.call("m1", "MeterValues", meter("kWh", "1.5"))).toEqual([3, "m1", {}]);
  expect(ctx.sent).toEqual([{ deviceName: "Acme W7", deviceType: "default", attributes: { pattern: raw.chargePoints[0].idRegexpPattern }, telemetry: [{ ts: 1700000000000, values: { energy_2: 1500 } }] }]);
  // thrown twice with the same error: both answered, one error line
  expect(await cp.call("m2", "MeterValues", meter("bad", "1"))).toEqual([3, "m2", {}]);
  expect(await cp.call("m3", "MeterValues", meter("bad", "2"))).toEqual([3, "m3", {}]);
  expect(await cp.call("m4", "MeterValues", meter("kWh", "2.5"))).toEqual([3, "m4", {}]);
  expect(ctx.sent.map((d) => d.telemetry?.[0]?.values.energy_2)).toEqual([1500, 2500]);
  const errors = logs.filter((l) => l.level === "ERROR").map((l) => l.message);
  expect(errors).toHaveLength(2);
  expect(errors[0]).toMatch(/^charge points ghost\/\.\*: converter NoSuchOcppConverter cannot be used \(custom converter class NoSuchOcppConverter not found in .*extensions\/ocpp; the folder exports: EnergyOcppConverter \(energy\.ts\)\); its data goes through the built-in converter and the keys configured for it instead \(fix the class and restart to use it\)$/);
  expect(errors[1]).toContain("custom converter EnergyOcppConverter failed: unit bad on connector 2; this message is dropped");
}, 60_000);
