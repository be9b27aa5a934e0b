// Config loading (upstream sample unchanged, template, old format) and the pure helpers the
// connector builds on: names, masks, address patterns, object ids, RPC params, value conversion.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ApplicationTag as T, ObjectType as O, PropertyIdentifier as P } from "@bacnet-js/client";
import { localEndpoint } from "./connector.ts";
import { matchesIAm } from "./device.ts";
import { addressPattern, expandObjectIds, maskToPrefix, objectTypeNumber, propertyNumber } from "./names.ts";
import { planConfigured, planReserved } from "./rpc.ts";
import { BacnetConfigSchema } from "./schema.ts";
import { encodeForWrite, PropertyError, pyRepr, toTbValue } from "./values.ts";

const root = join(import.meta.dir, "../../..");
const sample = JSON.parse(readFileSync(join(root, "../shared/reference/python-gateway-configs/bacnet.json"), "utf8"));

describe("bacnet schema", () => {
  test("upstream sample bacnet.json loads unchanged", () => {
    const r = BacnetConfigSchema.safeParse(sample);
    expect(r.error?.issues ?? []).toEqual([]);
    const c = r.data!;
    expect(c.application.objectIdentifier).toBe(599);
    expect(c.devices[0]!.port).toBe(47808); // "47808" in the file
    expect(c.devices[0]!.serverSideRpc.map((x) => x.method)).toEqual(["set_state", "get_state"]);
    expect(c.devicesDiscoverPeriodSeconds).toBe(30);
  });

  test("the config template loads", () => {
    const t = JSON.parse(readFileSync(join(root, "config-templates/bacnet.json"), "utf8"));
    const r = BacnetConfigSchema.safeParse(t);
    expect(r.error?.issues ?? []).toEqual([]);
    expect(r.data!.devices[0]!.subscribeCov).toBe(true);
  });

  test("old format (general section) is rewritten to the current one", () => {
    const old = {
      general: { objectName: "TB", host: "10.0.0.5", port: 47808, mask: 24, objectIdentifier: 599, vendorIdentifier: 15 },
      devices: [
        {
          deviceName: "Dev ${objectName}",
          deviceType: "thermo",
          host: "10.0.0.9",
          port: 47808,
          pollPeriod: 5000,
          timeseries: [{ key: "t", objectId: "analogInput:3", propertyId: "presentValue" }],
          serverSideRpc: [{ method: "get_t", requestType: "readProperty", objectId: "analogValue:2", propertyId: "presentValue" }],
        },
      ],
    };
    const c = BacnetConfigSchema.parse(old);
    expect(c.application.address).toBe("10.0.0.5/24:47808");
    const d = c.devices[0]!;
    expect(d.deviceInfo.deviceNameExpression).toBe("Dev ${objectName}");
    expect(d.address).toBe("10.0.0.9:47808");
    expect(d.timeseries).toEqual([{ key: "t", objectType: "analogInput", objectId: "3", propertyId: "presentValue" }]);
    expect(d.serverSideRpc[0]!.objectType).toBe("analogValue");
  });

  test("a bad config names the place", () => {
    const r = BacnetConfigSchema.safeParse({ application: { host: "1.2.3.4" }, devices: [{ deviceInfo: {} }] });
    const paths = r.error!.issues.map((i) => i.path.join("."));
    expect(paths).toContain("application.objectIdentifier");
    expect(paths).toContain("devices.0.deviceInfo.deviceNameExpression");
  });
});

describe("bacnet names and addresses", () => {
  test("camelCase, kebab-case and numbers map to BACnet enums", () => {
    expect(objectTypeNumber("analogInput")).toBe(O.ANALOG_INPUT);
    expect(objectTypeNumber("multi-state-value")).toBe(O.MULTI_STATE_VALUE);
    expect(objectTypeNumber("characterstringValue")).toBe(O.CHARACTERSTRING_VALUE);
    expect(objectTypeNumber("17")).toBe(17);
    expect(objectTypeNumber("nope")).toBeUndefined();
    expect(propertyNumber("presentValue")).toBe(P.PRESENT_VALUE);
    expect(propertyNumber("statusFlags")).toBe(P.STATUS_FLAGS);
  });

  test("mask: CIDR 0-32, dotted netmasks, anything else 24 (upstream rules)", () => {
    expect(maskToPrefix("16")).toBe(16);
    expect(maskToPrefix(0)).toBe(0);
    expect(maskToPrefix("32")).toBe(32);
    expect(maskToPrefix("33")).toBe(24);
    expect(maskToPrefix("-1")).toBe(24);
    expect(maskToPrefix("abc")).toBe(24);
    expect(maskToPrefix("255.255.0.0")).toBe(16);
    expect(maskToPrefix("255.255.255.255")).toBe(32);
    expect(maskToPrefix("255.0.255.0")).toBe(24);
    expect(maskToPrefix("255.255.256.0")).toBe(24);
  });

  test("address patterns: *, X octets, port wildcards, default port", () => {
    expect(addressPattern("*").test("10.1.2.3:47809")).toBe(true);
    expect(addressPattern("192.168.2.X").test("192.168.2.7:47808")).toBe(true);
    expect(addressPattern("192.168.2.X").test("192.168.2.7:47809")).toBe(false);
    expect(addressPattern("192.168.2.XX:*").test("192.168.2.17:1234")).toBe(true);
    expect(addressPattern("192.168.2.XX:*").test("192.168.2.7:1234")).toBe(false);
    expect(addressPattern("*:47810").test("1.2.3.4:47810")).toBe(true);
    expect(addressPattern("10.0.0.1").test("10.0.0.11:47808")).toBe(false);
    expect(addressPattern("10.0.0.1/24:47808").test("10.0.0.1:47808")).toBe(true);
  });

  test("I-Am matching by address, alternative address and device id", () => {
    const base = { deviceInfo: { deviceNameExpressionSource: "expression", deviceNameExpression: "x", deviceProfileExpressionSource: "expression", deviceProfileExpression: "default" }, altResponsesAddresses: [], pollPeriod: 1, attributes: [], timeseries: [], attributeUpdates: [], serverSideRpc: [] } as const;
    const iam = { address: "127.0.0.2:47808", deviceId: 5, maxApdu: 1476, segmentation: 3, vendorId: 1 };
    expect(matchesIAm({ ...base, host: "127.0.0.2" } as never, iam)).toBe(true);
    expect(matchesIAm({ ...base, host: "127.0.0.3" } as never, iam)).toBe(false);
    expect(matchesIAm({ ...base, host: "127.0.0.3", altResponsesAddresses: ["127.0.0.2"] } as never, iam)).toBe(true);
    expect(matchesIAm({ ...base, deviceId: 5 } as never, iam)).toBe(true);
    expect(matchesIAm({ ...base, deviceId: 6, host: "127.0.0.2" } as never, iam)).toBe(false);
  });

  test("object ids: numbers, ranges, lists, *", () => {
    expect(expandObjectIds(3)).toEqual([3]);
    expect(expandObjectIds("2-4")).toEqual([2, 3, 4]);
    expect(expandObjectIds([1, "5-6"])).toEqual([1, 5, 6]);
    expect(expandObjectIds("*")).toBe("*");
    expect(expandObjectIds("4-2")).toBeUndefined();
    expect(expandObjectIds("x")).toBeUndefined();
  });

  test("local endpoint: address form, subnet broadcast", () => {
    expect(localEndpoint({ address: "10.1.2.3/16:47810" } as never)).toEqual({ host: "10.1.2.3", port: 47810, broadcast: "10.1.255.255" });
    expect(localEndpoint({ host: "192.168.1.5", port: 47808, mask: "255.255.255.0" } as never).broadcast).toBe("192.168.1.255");
  });
});

describe("bacnet rpc params", () => {
  test("reserved get and set", () => {
    expect(planReserved("get", "objectType=analogInput;objectId=1;propertyId=presentValue;")).toEqual({
      plan: { kind: "read", objectType: O.ANALOG_INPUT, instance: 1, propertyId: P.PRESENT_VALUE },
    });
    expect(planReserved("set", "objectType=analogOutput;objectId=2;propertyId=presentValue;priority=8;value=42.5;")).toEqual({
      plan: { kind: "write", objectType: O.ANALOG_OUTPUT, instance: 2, propertyId: P.PRESENT_VALUE, priority: 8, value: "42.5" },
    });
    // priority without value = relinquish
    expect((planReserved("set", "objectType=analogOutput;objectId=2;propertyId=presentValue;priority=8;") as { plan: { value: unknown } }).plan.value).toBeNull();
  });

  test("reserved errors name the problem", () => {
    expect(planReserved("get", undefined)).toEqual({ error: "No params section found in RPC request" });
    expect(planReserved("get", "objectType=analogInput;objectId=1;")).toEqual({
      error: "The requested RPC does not match with the schema: objectType=<objectType>;objectId=<objectId>;propertyId=<propertyId>;",
    });
    expect((planReserved("get", "objectType=schedule;objectId=1;propertyId=presentValue;") as { error: string }).error).toStartWith("Invalid objectType: schedule");
    expect(planReserved("get", "objectType=analogInput;objectId=a;propertyId=presentValue;")).toEqual({ error: "Invalid objectId: a" });
    expect((planReserved("set", "objectType=analogOutput;objectId=1;propertyId=presentValue;priority=17;value=1;") as { error: string }).error).toContain("priority");
  });

  test("configured methods: requestType and objectType are checked", () => {
    const item = { method: "m", requestType: "readProperty", requestTimeout: 500, objectType: "analogOutput", objectId: 2, propertyId: "presentValue" };
    expect(planConfigured(item, null)).toEqual({ plan: { kind: "read", objectType: O.ANALOG_OUTPUT, instance: 2, propertyId: P.PRESENT_VALUE, timeoutMs: 500 } });
    expect((planConfigured({ ...item, requestType: "deleteObject" }, null) as { error: string }).error).toStartWith("Invalid requestType");
    expect((planConfigured({ ...item, objectType: "device" }, null) as { error: string }).error).toStartWith("Invalid objectType");
  });
});

describe("bacnet values", () => {
  test("uplink follows the upstream converter", () => {
    expect(toTbValue([{ type: T.REAL, value: 21.456 }], O.ANALOG_INPUT, P.PRESENT_VALUE)).toBe(21.46);
    expect(toTbValue([{ type: T.ENUMERATED, value: 1 }], O.BINARY_VALUE, P.PRESENT_VALUE)).toBe("1");
    expect(toTbValue([{ type: T.UNSIGNED_INTEGER, value: 3 }], O.MULTI_STATE_VALUE, P.PRESENT_VALUE)).toBe("3");
    expect(toTbValue([{ type: T.CHARACTER_STRING, value: "x" }], O.DEVICE, P.OBJECT_NAME)).toBe("x");
    expect(toTbValue([{ type: T.OBJECTIDENTIFIER, value: { type: 0, instance: 4 } }, { type: T.OBJECTIDENTIFIER, value: { type: 8, instance: 9 } }], O.DEVICE, P.OBJECT_LIST)).toEqual(["analogInput:4", "device:9"]);
    expect(() => toTbValue([{ type: T.ERROR, value: { errorClass: 2, errorCode: 32 } }], O.ANALOG_INPUT, P.DESCRIPTION)).toThrow("class 2 code 32");
  });

  test("downlink picks the application tag from object type", () => {
    expect(encodeForWrite("42.5", O.ANALOG_OUTPUT, P.PRESENT_VALUE)).toEqual({ type: T.REAL, value: 42.5 });
    expect(encodeForWrite(true, O.BINARY_OUTPUT, P.PRESENT_VALUE)).toEqual({ type: T.ENUMERATED, value: 1 });
    expect(encodeForWrite("inactive", O.BINARY_VALUE, P.PRESENT_VALUE)).toEqual({ type: T.ENUMERATED, value: 0 });
    expect(encodeForWrite(3, O.MULTI_STATE_VALUE, P.PRESENT_VALUE)).toEqual({ type: T.UNSIGNED_INTEGER, value: 3 });
    expect(encodeForWrite(null, O.ANALOG_OUTPUT, P.PRESENT_VALUE)).toEqual({ type: T.NULL, value: null });
    expect(() => encodeForWrite("warm", O.ANALOG_OUTPUT, P.PRESENT_VALUE)).toThrow("not a number");
  });

  test("RPC replies are Python-style dict strings", () => {
    expect(pyRepr({ value: 21.5 })).toBe("{'value': 21.5}");
    expect(pyRepr({ error: "it's bad" })).toBe("{'error': 'it\\'s bad'}");
  });
});

test("a value whose shape is not what its tag decodes to skips that property with a reason, not the device's poll (found by the converter fuzz)", () => {
  for (const v of [{ type: T.OBJECTIDENTIFIER, value: null }, { type: T.BIT_STRING, value: undefined }, { type: T.DEVICE_OBJECT_PROPERTY_REFERENCE, value: 7 }, { type: T.OCTET_STRING, value: [1n] }, { type: T.DATE, value: new Date(Number.NaN) }]) {
    expect(() => toTbValue([v], 2, 85)).toThrow(PropertyError);
  }
  // a bit string claiming more bits than it carries gives the bits it carries
  expect(toTbValue([{ type: T.BIT_STRING, value: { bitsUsed: 2 ** 31, value: [5] } }], 2, 111)).toEqual([1, 0, 1, 0, 0, 0, 0, 0]);
});

test("validate warns at the place of an objectType, propertyId or objectId the connector would skip (found by the config fuzz through run --check)", async () => {
  const { descriptor } = await import("./index.ts");
  const device = (item: object) => ({ devices: [{ deviceInfo: { deviceNameExpression: "d" }, timeseries: [{ key: "k", objectType: "analogInput", objectId: 1, propertyId: "presentValue", ...item }] }] });
  expect(descriptor.lint!(device({}))).toEqual([]);
  expect(descriptor.lint!(device({ objectType: "analog-input", propertyId: ["presentValue", "*", "statusFlags"] }))).toEqual([]);
  expect(descriptor.lint!(device({ objectType: "analogInpt" })).map((w) => [w.path.join("."), w.message])).toEqual([["devices.0.timeseries.0.objectType", 'unknown objectType "analogInpt" (camelCase names such as analogInput, binaryValue, device): this item is skipped']]);
  expect(descriptor.lint!(device({ propertyId: ["presentValue", "presntValue"] })).map((w) => w.path.join("."))).toEqual(["devices.0.timeseries.0.propertyId"]);
  expect(descriptor.lint!(device({ objectId: "5-1" })).map((w) => w.path.join("."))).toEqual(["devices.0.timeseries.0.objectId"]);
  expect(descriptor.lint!(device({ objectType: "device", objectId: "any" }))).toEqual([]);
});
