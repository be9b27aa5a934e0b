// Offline checks: config formats (current, old, templates), reference parsing, value conversion.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DataType, Variant, VariantArrayType } from "node-opcua-client";
import { parseRef, splitPath, fillTemplate } from "./paths.ts";
import { OpcuaConfigSchema } from "./schema.ts";
import { guessFromString, jsonToVariant, scalarToJson, variantToJson } from "./values.ts";

const TEMPLATES = join(import.meta.dir, "../../../config-templates");

describe("opcua schema", () => {
  test("defaults and url prefix", () => {
    const c = OpcuaConfigSchema.parse({ server: { url: "127.0.0.1:4840" } });
    expect(c.server.url).toBe("opc.tcp://127.0.0.1:4840");
    expect(c.server.enableSubscriptions).toBe(true);
    expect(c.server.subCheckPeriodInMillis).toBe(100);
    expect(c.server.identity.type).toBe("anonymous");
    expect(c.mapping).toEqual([]);
  });

  test("subCheckPeriodInMillis is at least 100", () => {
    expect(OpcuaConfigSchema.parse({ server: { url: "x", subCheckPeriodInMillis: 10 } }).server.subCheckPeriodInMillis).toBe(100);
  });

  test("old format is converted as upstream's adapter does", () => {
    const c = OpcuaConfigSchema.parse({
      server: {
        url: "localhost:4840",
        disableSubscriptions: true,
        mapping: [
          {
            deviceNodePattern: "Root\\.Objects\\.Device1",
            deviceNamePattern: "Device ${Root\\.Objects\\.Device1\\.serialNumber}",
            attributes: [{ key: "temperature °C", path: "${ns=2;i=5}" }],
            timeseries: [{ key: "humidity", path: "${Humidity}" }],
            attributes_updates: [{ attributeOnThingsBoard: "deviceName", attributeOnDevice: "Root\\.Objects\\.Device1\\.serialNumber" }],
            rpc_methods: [{ method: "multiply", arguments: [2, 4.5, "x", true] }],
          },
        ],
      },
    });
    expect(c.server.enableSubscriptions).toBe(false);
    const m = c.mapping[0]!;
    expect(m.deviceNodeSource).toBe("path");
    expect(m.deviceInfo).toEqual({ deviceNameExpressionSource: "path", deviceNameExpression: "Device ${Root\\.Objects\\.Device1\\.serialNumber}", deviceProfileExpressionSource: "constant", deviceProfileExpression: "default" });
    expect(m.attributes[0]).toMatchObject({ key: "temperature °C", type: "identifier", value: "${ns=2;i=5}" });
    expect(m.timeseries[0]).toMatchObject({ key: "humidity", type: "path", value: "${Humidity}" });
    expect(m.attributes_updates[0]).toEqual({ key: "deviceName", type: "constant", value: "Root\\.Objects\\.Device1\\.serialNumber" });
    expect(m.rpc_methods[0]!.arguments).toEqual([
      { type: "integer", value: 2 },
      { type: "double", value: 4.5 },
      { type: "string", value: "x" },
      { type: "boolean", value: true },
    ]);
  });

  test("bad config names the field", () => {
    const r = OpcuaConfigSchema.safeParse({ server: { url: "x", identity: { type: "kerberos" } } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(["server", "identity", "type"]);
  });

  for (const f of ["opcua.json", "opcua-secure.json"]) {
    test(`template ${f} validates`, () => {
      expect(() => OpcuaConfigSchema.parse(JSON.parse(readFileSync(join(TEMPLATES, f), "utf8")))).not.toThrow();
    });
  }
});

describe("opcua references", () => {
  test("paths, node ids and templates", () => {
    expect(parseRef("${ns=2;i=12}")).toEqual({ kind: "nodeId", nodeId: "ns=2;i=12" });
    expect(parseRef("ns=3;s=A.B")).toEqual({ kind: "nodeId", nodeId: "ns=3;s=A.B" });
    expect(parseRef("${Root\\.Objects\\.2:Dev}")).toEqual({ kind: "absolute", segments: [{ name: "Objects", ns: undefined }, { name: "Dev", ns: 2 }] });
    expect(parseRef("${Sub\\.Temp}").kind).toBe("relative");
    expect(splitPath("Root.Objects.X")).toEqual(["Root", "Objects", "X"]);
    expect(parseRef("${Dev\\d+}")).toMatchObject({ kind: "relative", segments: [{ name: "Dev\\d+", regex: /^(?:Dev\d+)$/ }] });
    expect(fillTemplate("Dev ${A} / ${B}", (x) => x.toLowerCase())).toBe("Dev a / b");
  });
});

describe("opcua values", () => {
  test("arrays print as upstream; big integers stay exact", () => {
    expect(variantToJson(new Variant({ dataType: DataType.Boolean, arrayType: VariantArrayType.Array, value: [true, false] }))).toEqual(["True", "False"]);
    expect(variantToJson(new Variant({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [0x200000, 1] }))).toBe(9007199254740993n);
    expect(variantToJson(new Variant({ dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: [0, 5] }))).toBe(5);
  });

  test("typed writes: ranges, strings, guesses", () => {
    expect(jsonToVariant(DataType.Int16, "12").value).toBe(12);
    expect(() => jsonToVariant(DataType.Byte, 300)).toThrow("out of range for Byte");
    expect(jsonToVariant(DataType.Boolean, "true").value).toBe(true);
    expect(jsonToVariant(DataType.Int64, "-1").value).toEqual([0xffffffff, 0xffffffff]);
    expect(guessFromString("1.5")).toBe(1.5);
    expect(guessFromString("7")).toBe(7);
    expect(guessFromString("False")).toBe(false);
    expect(guessFromString("abc")).toBe("abc");
  });
});

test("an Int64 value that is not node-opcua's [high, low] pair passes as it is instead of a TypeError that lost the batch (found by the converter fuzz)", () => {
  expect(scalarToJson(DataType.Int64, [1n, 2n])).toEqual([1n, 2n]);
  expect(scalarToJson(DataType.UInt64, 2n ** 64n - 1n)).toBe(2n ** 64n - 1n);
  expect(scalarToJson(DataType.Int64, 7n)).toBe(7);
  expect(scalarToJson(DataType.Int64, [0, 5])).toBe(5);
});
