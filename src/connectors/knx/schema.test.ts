// The KNX config file: upstream's spellings accepted (gatewayIp and the sample's gatewayIP), bad
// group addresses and type names rejected at their place, and the conversion of one poll.

import { describe, expect, test } from "bun:test";
import { busOptions } from "./connector.ts";
import { convertPoll, planDevice } from "./converter.ts";
import { KnxConfigSchema } from "./schema.ts";

const parse = (raw: unknown) => KnxConfigSchema.safeParse(raw);
const issues = (raw: unknown) => (parse(raw).error?.issues ?? []).map((i) => `${i.path.join(".")}: ${i.message}`);

describe("KNX config", () => {
  test("gatewayIp and upstream's sample spelling gatewayIP both name the interface", () => {
    for (const key of ["gatewayIp", "gatewayIP"]) {
      const cfg = KnxConfigSchema.parse({ client: { [key]: "10.0.0.7", gatewayPort: 3700 } });
      expect(busOptions(cfg.client)).toMatchObject({ mode: "tunnel", host: "10.0.0.7", port: 3700 });
    }
  });

  test("AUTOMATIC without an interface address routes; loopback interfaces get a loopback return path", () => {
    expect(busOptions(KnxConfigSchema.parse({ client: { individualAddress: "1.0.10" } }).client)).toMatchObject({ mode: "routing", host: "224.0.23.12", port: 3671, individualAddress: "1.0.10" });
    expect(busOptions(KnxConfigSchema.parse({ client: { gatewayIP: "127.0.0.1", localIp: "0.0.0.0" } }).client)).toMatchObject({ mode: "tunnel", localIp: "127.0.0.1", individualAddress: undefined });
    expect(() => busOptions(KnxConfigSchema.parse({ client: { type: "TUNNELING" } }).client)).toThrow("client.type TUNNELING needs client.gatewayIp");
    expect(busOptions(KnxConfigSchema.parse({ client: { type: "TUNNELING_TCP", gatewayIp: "10.0.0.7" } }).client)).toMatchObject({ mode: "tunnelTcp", localIp: undefined });
  });

  test("routing: our address defaults to xknx's 15.15.250, a given localIp is the interface, 0.0.0.0 leaves it to the route", () => {
    expect(busOptions(KnxConfigSchema.parse({ client: { type: "ROUTING" } }).client)).toMatchObject({ mode: "routing", individualAddress: "15.15.250", localIp: undefined });
    expect(busOptions(KnxConfigSchema.parse({ client: { type: "ROUTING", localIp: "0.0.0.0", gatewayIP: "192.168.1.160" } }).client)).toMatchObject({ mode: "routing", host: "224.0.23.12", localIp: undefined });
    expect(busOptions(KnxConfigSchema.parse({ client: { type: "ROUTING", localIp: "192.168.1.20", multicastGroup: "239.0.0.1", multicastPort: 3700 } }).client)).toMatchObject({ host: "239.0.0.1", port: 3700, localIp: "192.168.1.20" });
  });

  test("rateLimit: frames/s become the pause between frames; 0 is no pause (upstream: unlimited)", () => {
    expect(busOptions(KnxConfigSchema.parse({ client: { gatewayIp: "10.0.0.7" } }).client).sendIntervalMs).toBe(0);
    expect(busOptions(KnxConfigSchema.parse({ client: { gatewayIp: "10.0.0.7", rateLimit: 20 } }).client).sendIntervalMs).toBe(50);
    expect(busOptions(KnxConfigSchema.parse({ client: { gatewayIp: "10.0.0.7", rateLimit: 3 } }).client).sendIntervalMs).toBe(334);
  });

  test("bad group addresses, unknown types and KNX Secure are errors at their place", () => {
    const raw = {
      client: { type: "ROUTING_SECURE" },
      devices: [{ deviceInfo: { deviceNameExpression: "X" }, timeseries: [{ key: "t", type: "temprature", groupAddress: "1/9/6" }] }],
      attributeUpdates: [{ key: "b", dataType: "percentU8", groupAddress: "0/0/0" }],
    };
    const found = issues(raw);
    expect(found).toContainEqual(expect.stringMatching(/^client\.type: KNX Secure .* is not supported yet/));
    expect(found).toContainEqual(expect.stringMatching(/^devices\.0\.timeseries\.0\.type: unknown KNX datapoint type "temprature"/));
    expect(found).toContainEqual(expect.stringMatching(/^devices\.0\.timeseries\.0\.groupAddress: "1\/9\/6" is not a group address/));
    expect(found).toContainEqual(expect.stringMatching(/^attributeUpdates\.0\.groupAddress: .*broadcast address/));
    const named = issues({ client: {}, devices: [{ deviceInfo: { deviceNameExpressionSource: "expression", deviceNameExpression: "Device ${name}" } }] });
    expect(named).toEqual(['devices.0.deviceInfo.deviceNameExpression: in "Device ${name}": "name" is not a group address: write "main/middle/sub" (main 0-31, middle 0-7, sub 0-255, e.g. "1/0/6"), "main/sub" (sub 0-2047) or a number 0-65535 (a ${...} part names the group address whose value replaces it)']);
  });

  test("one poll: the name from its address, keys sharing an address both decoded, an unanswered name sends nothing", () => {
    const cfg = KnxConfigSchema.parse({
      client: { gatewayIp: "127.0.0.1" },
      devices: [{
        deviceInfo: { deviceNameExpressionSource: "expression", deviceNameExpression: "Device ${1/0/5}", deviceNameDataType: "string", deviceProfileNameExpression: "knx-room" },
        attributes: [{ key: "temperature", type: "temperature", groupAddress: "1/0/6" }],
        timeseries: [{ key: "t", type: "temperature", groupAddress: "1/0/6" }, { key: "raw", type: "2byte_unsigned", groupAddress: "1/0/6" }],
      }],
    });
    const plan = planDevice(cfg.devices[0]!);
    expect(plan.addresses.map((a) => a.text)).toEqual(["1/0/6", "1/0/5"]);
    const answers = new Map([[(1 << 11) | 6, Buffer.from("0c33", "hex")], [(1 << 11) | 5, Buffer.from("41", "hex")]]);
    expect(convertPoll(plan, answers, 5).data).toEqual({ deviceName: "Device A", deviceType: "knx-room", attributes: { temperature: 21.5 }, telemetry: [{ ts: 5, values: { t: 21.5, raw: 3123 } }] });
    const unnamed = convertPoll(plan, new Map([[(1 << 11) | 6, Buffer.from("0c33", "hex")]]), 5);
    expect(unnamed.data).toBeUndefined();
    expect(unnamed.problems.get("deviceName")).toBe('device name "Device ${1/0/5}" not known: no value from 1/0/5');
  });

  test("a device name that reads as empty text (a text address answering NUL bytes) sends nothing and says why (found by the converter fuzz)", () => {
    const cfg = KnxConfigSchema.parse({
      client: { gatewayIp: "127.0.0.1" },
      devices: [{ deviceInfo: { deviceNameExpressionSource: "expression", deviceNameExpression: "${1/0/5}", deviceNameDataType: "string" }, timeseries: [{ key: "t", type: "temperature", groupAddress: "1/0/6" }] }],
    });
    const r = convertPoll(planDevice(cfg.devices[0]!), new Map([[(1 << 11) | 6, Buffer.from("0c33", "hex")], [(1 << 11) | 5, Buffer.alloc(14)]]), 5);
    expect(r.data).toBeUndefined();
    expect(r.problems.get("deviceName")).toBe('device name "${1/0/5}" is empty with the values read; this poll\'s data is not sent');
  });
});
