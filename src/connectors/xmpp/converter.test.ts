// The XMPP uplink converter and downlink messages on upstream's sample device entry (xmpp.json)
// and on text bodies: what the Python gateway would produce, with typed values where it sends text.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SAMPLES } from "../../../test/support/paths.ts";
import { XmppUplinkConverter, textField } from "./converter.ts";
import { attributeMessages, planRpc, SET_EMPTY_REPLY } from "./downlink.ts";
import { XmppConfigSchema, type XmppDeviceConfig } from "./schema.ts";
import { descriptor } from "./index.ts";

const sample = XmppConfigSchema.parse(JSON.parse(readFileSync(join(SAMPLES, "xmpp.json"), "utf8")));
const device = sample.devices[0]!;
const NOW = 1_700_000_000_000;

function deviceWith(over: Partial<XmppDeviceConfig>): XmppDeviceConfig {
  return XmppConfigSchema.parse({ server: { jid: "gw@localhost", password: "p", host: "127.0.0.1", port: 5222 }, devices: [{ jid: "d@localhost/r", deviceTypeExpression: "default", ...over }] }).devices[0]!;
}

describe("uplink", () => {
  test("sample JSON body: typed values for pure placeholders, text for a mixed template", () => {
    const r = new XmppUplinkConverter(device).convert(JSON.stringify({ serialNumber: "SN-1", temp: 21.5, hum: 40 }), NOW);
    expect(r).toEqual([{ deviceName: "SN-1", deviceType: "default", attributes: { temperature: 21.5 }, telemetry: [{ values: { humidity: 40, combination: "21.5:40" } }] }]);
  });

  test("a missing key is skipped (upstream's None), the message's ts stamps the telemetry", () => {
    const r = new XmppUplinkConverter(device).convert(JSON.stringify({ serialNumber: "SN-2", hum: 41, ts: 1234 }), NOW);
    expect(r).toEqual([{ deviceName: "SN-2", deviceType: "default", telemetry: [{ ts: 1234, values: { humidity: 41, combination: "None:41" } }] }]);
  });

  test("no device name in the body: dropped with the reason", () => {
    expect(new XmppUplinkConverter(device).convert(JSON.stringify({ temp: 1 }), NOW)).toBe("JSON body: device name not found (${serialNumber})");
  });

  test("type hints convert (tb-gw addition)", () => {
    const d = deviceWith({ deviceNameExpression: "${id}", timeseries: [{ key: "t", value: "${t}", type: "float" }, { key: "on", value: "${on}", type: "bool" }] });
    expect(new XmppUplinkConverter(d).convert('{"id":"x","t":"1.5","on":"yes"}', NOW)).toEqual([{ deviceName: "x", deviceType: "default", telemetry: [{ values: { t: 1.5, on: true } }] }]);
  });

  test("text body: the first slice of each expression, Python semantics, receive time", () => {
    const d = deviceWith({ deviceNameExpression: "[0:4]", deviceTypeExpression: "meter", attributes: [{ key: "model", value: "[-3:]" }], timeseries: [{ key: "v", value: "[5:9]", type: "int" }, { key: "empty", value: "[50:60]" }] });
    expect(new XmppUplinkConverter(d).convert("SN-7 1234 T10", NOW)).toEqual([{ deviceName: "SN-7", deviceType: "meter", attributes: { model: "T10" }, telemetry: [{ ts: NOW, values: { v: 1234 } }] }]);
  });

  test("text body with an empty name is dropped; a bare JSON number is text", () => {
    const d = deviceWith({ deviceNameExpression: "[5:]", timeseries: [{ key: "v", value: "[:]" }] });
    expect(new XmppUplinkConverter(d).convert("abc", NOW)).toBe("text body: device name is empty ([5:])");
    const n = deviceWith({ deviceNameExpression: "const", timeseries: [{ key: "v", value: "[:]" }] });
    expect(new XmppUplinkConverter(n).convert("42", NOW)).toEqual([{ deviceName: "const", deviceType: "default", telemetry: [{ ts: NOW, values: { v: "42" } }] }]);
  });

  test("slices count code points, not UTF-16 units", () => {
    expect(textField("[1:3]")(Array.from("a😀bc"))).toBe("😀b");
    expect(textField("[-1]")(Array.from("abc"))).toBe("c");
    expect(textField("literal")(Array.from("abc"))).toBe("literal");
  });
});

describe("downlink", () => {
  test("attribute update: the sample rule's message; every key with a rule is sent", () => {
    expect(attributeMessages(device, { device: "SN-1", data: { shared: "on", other: 1 } })).toEqual(['{"shared":"on"}']);
    const two = deviceWith({ deviceNameExpression: "x", attributeUpdates: [{ attributeOnThingsBoard: "a", valueExpression: "A=${attributeValue}" }, { attributeOnThingsBoard: "b", valueExpression: "B=${attributeValue}" }] });
    expect(attributeMessages(two, { device: "x", data: { a: 1.5, b: true } })).toEqual(["A=1.5", "B=true"]);
  });

  test("RPC rule: ${params} as JSON, answered success once sent", () => {
    expect(planRpc(device, { device: "SN-1", id: 1, method: "rpc1", params: { a: 1, s: "x" } })).toEqual({ kind: "send", body: '{"a":1,"s":"x"}', reply: { success: true } });
    expect(planRpc(device, { device: "SN-1", id: 2, method: "nope", params: {} })).toEqual({ kind: "unhandled" });
  });

  test("reserved set: k=v;k2=v2 → a JSON object of strings; empty params are refused", () => {
    expect(planRpc(device, { device: "SN-1", id: 3, method: "set", params: "k=v;k2=v2;" })).toEqual({ kind: "send", body: '{"k":"v","k2":"v2"}', reply: { result: { success: true } } });
    expect(planRpc(device, { device: "SN-1", id: 4, method: "set", params: "" })).toEqual({ kind: "answer", reply: SET_EMPTY_REPLY });
  });
});

describe("schema", () => {
  test("the sample keeps upstream's defaults; verification is on", () => {
    expect(sample.server).toMatchObject({ use_ssl: false, disable_starttls: false, force_starttls: true, unencrypted_plain_auth: true, verify_certificate: true, timeout: 10000 });
    expect(device.serverSideRpc[0]!.withResponse).toBe(true);
  });

  test("duplicate device JIDs are an error at their place; a custom converter class is accepted (custom-converter.test.ts)", () => {
    const r = XmppConfigSchema.safeParse({ server: { jid: "gw@localhost", password: "p", host: "h", port: 5222 }, devices: [
      { jid: "d@localhost/r", deviceNameExpression: "a", deviceTypeExpression: "t" },
      { jid: "d@localhost/r", deviceNameExpression: "b", deviceTypeExpression: "t", converter: "MyConverter" },
    ] });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join("."))).toEqual(["devices.1.jid"]);
  });
});

describe("validate --sample", () => {
  test("one body through the device entry named by its JID (--topic), or every entry", async () => {
    const body = new TextEncoder().encode('{"serialNumber":"SN-5","temp":20,"hum":30}');
    expect(await descriptor.convertSample!(sample, body, { topic: "device@localhost/TMP_1101", configDir: "." })).toEqual([
      { deviceName: "SN-5", deviceType: "default", attributes: { temperature: 20 }, telemetry: [{ values: { humidity: 30, combination: "20:30" } }] },
    ]);
    await expect(descriptor.convertSample!(sample, body, { topic: "other@localhost/x", configDir: "." })).rejects.toThrow("no device entry has the JID other@localhost/x (JIDs: device@localhost/TMP_1101)");
    await expect(descriptor.convertSample!(sample, new TextEncoder().encode('{"temp":1}'), { configDir: "." })).rejects.toThrow("sample dropped: device@localhost/TMP_1101: JSON body: device name not found (${serialNumber})");
  });
});
