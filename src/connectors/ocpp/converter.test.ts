// Offline: OCPP-J frame parsing, admission, payload checks, the snake_case view of payloads, the
// keys' conversion and the downlink plans.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SAMPLES } from "../../../test/support/paths.ts";
import { NO_REPLY } from "../../core/model.ts";
import { checkCall } from "./actions.ts";
import { Admitter, chargePointId, offersOcpp16 } from "./admission.ts";
import { ChargePointConverter, messageBody, toSnakeCase } from "./converter.ts";
import { attributeCalls, planRpc, replyFor } from "./downlink.ts";
import { parseFrame } from "./frames.ts";
import { OcppConfigSchema } from "./schema.ts";

const sample = () => OcppConfigSchema.parse(JSON.parse(readFileSync(join(SAMPLES, "ocpp.json"), "utf8")));

describe("OCPP-J frames", () => {
  test("the three message types", () => {
    expect(parseFrame('[2,"1","Heartbeat",{}]')).toEqual({ type: 2, id: "1", action: "Heartbeat", payload: {} });
    expect(parseFrame('[3,"1",{"a":1}]')).toEqual({ type: 3, id: "1", payload: { a: 1 } });
    expect(parseFrame('[4,"1","NotSupported","no",{}]')).toEqual({ type: 4, id: "1", code: "NotSupported", description: "no", details: {} });
  });
  test("anything else is a FormationViolation, answered only where it may be a CALL", () => {
    for (const bad of ["", "x", "{}", "[]", '[5,"1"]', '[2,1,"Heartbeat",{}]', '[2,"1","Heartbeat"]', '[2,"1","Heartbeat",[]]', '[2,"1",7,{}]', `[2,"${"x".repeat(37)}","Heartbeat",{}]`]) {
      expect(parseFrame(bad)).toMatchObject({ error: "FormationViolation", answer: true });
    }
    expect(parseFrame('[2,"abc","Heartbeat"]')).toMatchObject({ id: "abc" });
    expect(parseFrame('[3,"1","text"]')).toMatchObject({ error: "FormationViolation", answer: false });
    expect(parseFrame('[4,"1"]')).toMatchObject({ error: "FormationViolation", answer: false });
  });
});

describe("payload checks", () => {
  test("required fields and their types; unknown actions", () => {
    expect(checkCall("Heartbeat", {})).toBeUndefined();
    expect(checkCall("BootNotification", { chargePointVendor: "a", chargePointModel: "b" })).toBeUndefined();
    expect(checkCall("BootNotification", { chargePointVendor: "a" })?.code).toBe("OccurenceConstraintViolation");
    expect(checkCall("MeterValues", { connectorId: 1.5, meterValue: [] })?.code).toBe("TypeConstraintViolation");
    expect(checkCall("Reset", {})?.code).toBe("NotImplemented");
  });
});

describe("admission", () => {
  const cfg = sample();
  const admitter = new Admitter(cfg.centralSystem, cfg.chargePoints);
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;
  test("ids: the path without slashes, percent escapes decoded; patterns match from the start", () => {
    expect(chargePointId("/bidon/hello/CP_1/")).toBe("bidon/hello/CP_1");
    expect(chargePointId("/bidon%2Fhello%2FCP_1")).toBe("bidon/hello/CP_1");
    expect(admitter.admit("/bidon/hello/CP_1", "Bearer ACCESS_TOKEN", "127.0.0.1", 5000)).toEqual({ ok: true, id: "bidon/hello/CP_1", entry: 0 });
    expect(admitter.admit("/bidon/hello/CP_123", "Bearer ACCESS_TOKEN", "127.0.0.1", 5000).ok).toBe(true);
    expect(admitter.admit("/x/bidon/hello/CP_1", "Bearer ACCESS_TOKEN", "127.0.0.1", 5000)).toMatchObject({ ok: false, status: 404 });
  });
  test("tokens as whole header values, basic credentials decoded", () => {
    expect(admitter.admit("/bidon/hello/CP_1", basic("admin", "admin"), "127.0.0.1", 1).ok).toBe(true);
    expect(admitter.admit("/bidon/hello/CP_1", basic("admin", "x"), "127.0.0.1", 1)).toMatchObject({ ok: false, status: 401 });
    expect(admitter.admit("/bidon/hello/CP_1", "Bearer other", "127.0.0.1", 1)).toMatchObject({ ok: false, status: 401 });
    expect(admitter.admit("/bidon/hello/CP_1", null, "127.0.0.1", 1)).toMatchObject({ ok: false, status: 401 });
  });
  test("no security: anyone with a known id; host and port filters", () => {
    const open = new Admitter({ ...cfg.centralSystem, security: [] }, [{ ...cfg.chargePoints[0]!, host: "10\\.", port: "5" }]);
    expect(open.admit("/bidon/hello/CP_1", null, "10.0.0.1", 5555).ok).toBe(true);
    expect(open.admit("/bidon/hello/CP_1", null, "127.0.0.1", 5555)).toMatchObject({ ok: false, status: 403 });
  });
  test("subprotocol", () => {
    expect(offersOcpp16("ocpp2.0.1, ocpp1.6")).toBe(true);
    expect(offersOcpp16("ocpp2.0.1")).toBe(false);
    expect(offersOcpp16(null)).toBe(false);
  });
});

describe("uplink conversion", () => {
  test("snake_case as the Python library names fields", () => {
    expect(toSnakeCase({ connectorId: 1, meterValue: [{ sampledValue: [{ value: "1" }] }], chargePointSerialNumber: "x", iccid: "y" })).toEqual({
      connector_id: 1,
      meter_value: [{ sampled_value: [{ value: "1" }] }],
      charge_point_serial_number: "x",
      iccid: "y",
    });
  });
  test("the sample's keys: MeterValues attributes typed, DataTransfer data parsed; nothing for other actions", () => {
    const conv = new ChargePointConverter(sample().chargePoints[0]!);
    const device = conv.deviceOf(messageBody("BootNotification", { chargePointVendor: "Acme", chargePointModel: "W7" }));
    expect(device).toEqual({ name: "Acme W7", type: "default" });
    const mv = messageBody("MeterValues", { connectorId: 2, meterValue: [{ timestamp: "2026-01-01T00:00:00Z", sampledValue: [{ value: "230.5" }, { value: "1" }] }] });
    expect(conv.convert("MeterValues", mv, device, 1).data).toEqual({ deviceName: "Acme W7", deviceType: "default", attributes: { temp1: 230.5, vendorId: 2 } });
    const dt = messageBody("DataTransfer", { vendorId: "v", data: '{"temp": 5}' });
    expect(conv.convert("DataTransfer", dt, device, 7).data).toEqual({ deviceName: "Acme W7", deviceType: "default", telemetry: [{ ts: 7, values: { temp: 5 } }] });
    expect(conv.convert("BootNotification", messageBody("BootNotification", { chargePointVendor: "Acme", chargePointModel: "W7" }), device, 1).data).toBeUndefined();
    // a key whose value is not in the message is left out, never sent as ${...} text
    expect(conv.convert("DataTransfer", messageBody("DataTransfer", { vendorId: "v", data: "plain" }), device, 1)).toEqual({ missing: ["temp"] });
  });
  test("signed or non-decimal sampled values stay text; a type hint converts", () => {
    const body = messageBody("MeterValues", { connectorId: 1, meterValue: [{ timestamp: "x", sampledValue: [{ value: "ABCD", format: "SignedData" }, { value: "n/a" }] }] });
    expect((body.meter_value as any)[0].sampled_value.map((s: any) => s.value)).toEqual(["ABCD", "n/a"]);
    const conv = new ChargePointConverter({
      ...sample().chargePoints[0]!,
      attributes: [{ messageTypeFilter: "StatusNotification", key: "connector", value: "${connector_id}", type: "string" }],
      timeseries: [],
    });
    const data = conv.convert("StatusNotification", messageBody("StatusNotification", { connectorId: 3, errorCode: "NoError", status: "Faulted" }), { name: "d", type: "t" }, 1).data;
    expect(data?.attributes).toEqual({ connector: "3" });
  });
});

describe("downlink plans", () => {
  const cp = sample().chargePoints[0]!;
  test("attribute update: the rule's expression with key and value", () => {
    expect(attributeCalls(cp, { shared: true, other: 1 })).toEqual([{ action: "DataTransfer", payload: { vendorId: "1", data: '{"shared":"true"}' } }]);
  });
  test("rule with ${params} as JSON, reserved set, OCPP actions, nothing else", () => {
    expect(planRpc(cp, "rpc1", "text")).toEqual({ call: { action: "DataTransfer", payload: { vendorId: "1", data: '"text"' } }, reply: true });
    expect(planRpc(cp, "set", "value=a=b;x=1")).toEqual({ call: { action: "DataTransfer", payload: { vendorId: "1", data: "a=b" } }, reply: true });
    expect(planRpc(cp, "set", { value: { a: 1 } })).toEqual({ call: { action: "DataTransfer", payload: { vendorId: "1", data: '{"a":1}' } }, reply: true });
    expect(planRpc(cp, "set", "x=1")).toHaveProperty("error");
    expect(planRpc(cp, "ChangeConfiguration", '{"key":"HeartbeatInterval","value":"30"}')).toEqual({
      call: { action: "ChangeConfiguration", payload: { key: "HeartbeatInterval", value: "30" } },
      reply: true,
    });
    expect(planRpc(cp, "ClearCache", undefined)).toEqual({ call: { action: "ClearCache", payload: {} }, reply: true });
    expect(planRpc(cp, "Reset", "soft")).toHaveProperty("error");
    expect(planRpc(cp, "unknown", {})).toBeUndefined();
    expect(replyFor(false, {})).toBe(NO_REPLY);
  });
});
