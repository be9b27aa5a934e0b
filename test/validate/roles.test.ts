// Schema roles of the real connectors beyond the corpus: file paths resolve like the runtime does,
// files inside free-form TLS blocks are checked, and poll periods left to their default still count
// in the storage growth estimate.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { checkGatewayConfig } from "../../src/config/load.ts";
import { BYTES_PER_RECORD, estimateGrowth, SEED_BYTES_PER_HOUR, unreadable } from "../../src/config/semantic.ts";
import { resolveConfigPath } from "../../src/common/tls/index.ts";

const work = mkdtempSync(join(tmpdir(), "tbgw-roles-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function site(name: string, connectors: object[], files: Record<string, string>, storage: object = { type: "memory" }): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const main = { thingsboard: { host: "127.0.0.1", port: 1883, security: { accessToken: "abc" } }, storage, connectors };
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
  return join(dir, "tb_gateway.json");
}

describe("file roles", () => {
  test("a path that exists only from the working folder is readable, as the runtime reads it", () => {
    // deep enough that the path relative to the working folder, joined to the config folder,
    // names nothing, wherever the checkout lives
    const configDir = join(work, "a", "b", "c", "d", "elsewhere");
    mkdirSync(configDir, { recursive: true });
    const file = join(work, "from-cwd.pem");
    writeFileSync(file, "pem");
    const rel = relative(process.cwd(), file);
    expect(resolveConfigPath(rel, configDir)).toBe(rel); // the runtime falls back to the path as given
    expect(unreadable(rel, configDir)).toBeUndefined();
    expect(unreadable("missing.pem", configDir)).toContain(`looked at ${join(configDir, "missing.pem")}`);
  });

  test("modbus TLS blocks: a missing certfile is an error at its place, present files pass", async () => {
    const slave = (tls: object) => ({ deviceName: "Meter", host: "127.0.0.1", port: 5020, unitId: 1, tls, timeseries: [] });
    const path = site("modbus-tls", [{ name: "Meters", type: "modbus", configuration: "modbus.json" }], {
      "key.pem": "key",
      "modbus.json": JSON.stringify({ master: { slaves: [slave({ certfile: "cert.pem", keyfile: "key.pem", password: "x" })] } }, null, 2),
    });
    const r = await checkGatewayConfig(path, { env: {} });
    expect(r.diagnostics.map((d) => `${d.path}: ${d.severity}: ${d.message.split(work).join("")}`)).toEqual([
      'master.slaves[0].tls.certfile: error: connector "Meters": cannot read "cert.pem": not found (looked at /modbus-tls/cert.pem); relative paths start at the config folder',
    ]);
  });
});

describe("storage growth estimate", () => {
  test("no polled device: the seed's figure", () => {
    expect(estimateGrowth([]).bytesPerHour).toBe(SEED_BYTES_PER_HOUR);
  });

  test("poll periods left out count at their schema default (snmp 10 s, ble 5 s)", async () => {
    const path = site(
      "defaults",
      [
        { name: "Agents", type: "snmp", configurationJson: { devices: [{ deviceName: "A", ip: "127.0.0.1" }, { deviceName: "B", ip: "127.0.0.1", pollPeriod: 1000 }] } },
        { name: "Tags", type: "ble", configurationJson: { devices: [{ name: "Tag", MACAddress: "4C:65:A8:DF:85:C0" }] } },
      ],
      {},
      { type: "sqlite", data_file_path: "./data/" },
    );
    const r = await checkGatewayConfig(path, { env: {} });
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const perHour = 3600 / 10 + 3600 / 1 + 3600 / 5;
    const growth = r.diagnostics.filter((d) => d.message.startsWith("sqlite storage without"));
    expect(growth).toHaveLength(1);
    expect(growth[0]!.message).toContain(`(3 polled devices, ${perHour} records/h at ~7 KB each)`);
    // 10 GB of default bounds at that rate:
    const hours = (10 * 1024 ** 3) / (perHour * BYTES_PER_RECORD);
    expect(growth[0]!.message).toContain(`holds ${hours.toFixed(1)} h of platform outage`);
  });
});

describe("expression roles", () => {
  const ble = (compute: string) => ({ devices: [{ name: "Tag", MACAddress: "4C:65:A8:DF:85:C0", telemetry: [{ key: "t", valueExpression: "[1:3]", dataSourceType: "advertisement", compute }] }] });
  /** 1-based line and column of the first `needle` after `after` in `text`. */
  const place = (text: string, after: string, needle: string) => {
    const at = text.indexOf(needle, text.indexOf(after));
    const before = text.slice(0, at).split("\n");
    return `${before.length}:${before[before.length - 1]!.length + 1}`;
  };
  const errors = async (name: string, file: string, text: string, type = "ble") => {
    const path = site(name, [{ name: "Sensors", type, configuration: file }], { [file]: text });
    const r = await checkGatewayConfig(path, { env: {} });
    return r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.line}:${d.col} ${d.path}: ${d.message}`);
  };

  test("BLE compute: a syntax error points at its character inside the string", async () => {
    const text = JSON.stringify(ble("value +* 2"), null, 2);
    expect(await errors("ble-syntax", "ble.json", text)).toEqual([
      `${place(text, '"compute"', "*")} devices[0].telemetry[0].compute: connector "Sensors": Python expression: unexpected "*"`,
    ]);
  });

  test("escapes before the place are counted as the file has them", async () => {
    const text = JSON.stringify(ble("PLACEHOLDER"), null, 2).replace("PLACEHOLDER", "\\u0076alue \\t+ lambda: 1");
    expect(await errors("ble-escape", "ble.json", text)).toEqual([
      `${place(text, '"compute"', "lambda")} devices[0].telemetry[0].compute: connector "Sensors": Python expression: lambda functions are not supported in expressions`,
    ]);
  });

  test("BLE compute knows its one variable", async () => {
    const text = JSON.stringify(ble("value * scale"), null, 2);
    expect(await errors("ble-name", "ble.json", text)).toEqual([
      `${place(text, '"compute"', "scale")} devices[0].telemetry[0].compute: connector "Sensors": Python expression: unknown name "scale"; the variables here are value`,
    ]);
    expect(await errors("ble-ok", "ble.json", JSON.stringify(ble("round((value - 65536 if value > 32767 else value) / 100, 1)"), null, 2))).toEqual([]);
  });

  test("YAML: plain and double-quoted scalars point inside too", async () => {
    const plain = ["devices:", "  - name: Tag", "    MACAddress: 4C:65:A8:DF:85:C0", "    telemetry:", "      - key: t", "        valueExpression: '[1:3]'", "        dataSourceType: advertisement", "        compute: value / 10 - __x", ""].join("\n");
    expect(await errors("ble-yaml", "ble.yaml", plain)).toEqual([
      `8:31 devices[0].telemetry[0].compute: connector "Sensors": Python expression: "__x": names starting with "__" are not accessible`,
    ]);
    const quoted = plain.replace("compute: value / 10 - __x", 'compute: "value \\x2f 10 $ 1"');
    expect(await errors("ble-yaml-q", "ble.yaml", quoted)).toEqual([`8:33 devices[0].telemetry[0].compute: connector "Sensors": Python expression: unexpected character "$"`]);
  });

  test("MQTT useEval: values of number/bool types are checked with placeholders read as numbers", async () => {
    const mqtt = (useEval: boolean | undefined, type: string, value: string, converter = "json") =>
      JSON.stringify(
        {
          broker: { host: "127.0.0.1" },
          mapping: [{ topicFilter: "t", converter: { type: converter, useEval, deviceInfo: { deviceNameExpressionSource: "constant", deviceNameExpression: "D" }, timeseries: [{ type, key: "k", value }] } }],
        },
        null,
        2,
      );
    const bad = mqtt(true, "int", "${a} +* ${b}");
    expect(await errors("mqtt-eval", "mqtt.json", bad, "mqtt")).toEqual([
      `${place(bad, '"value"', "*")} mapping[0].converter.timeseries[0].value: connector "Sensors": with useEval the value is evaluated as a Python expression: unexpected "*"`,
    ]);
    expect(await errors("mqtt-eval-ok", "mqtt.json", mqtt(true, "double", "(${a} - 32) / 1.8"), "mqtt")).toEqual([]);
    expect(await errors("mqtt-no-eval", "mqtt.json", mqtt(undefined, "int", "${a} +* ${b}"), "mqtt")).toEqual([]);
    expect(await errors("mqtt-eval-string", "mqtt.json", mqtt(true, "string", "${a} +* ${b}"), "mqtt")).toEqual([]);
    // the bytes converter never evaluates: its [from:to] slices are not expressions
    expect(await errors("mqtt-eval-bytes", "mqtt.json", mqtt(true, "int", "[0:4]", "bytes"), "mqtt")).toEqual([]);
  });

  test("CAN: key expressions know value and can_data, attribute updates value, RPC rules any params", async () => {
    const can = (expression: string, update: string, rpc: string) =>
      JSON.stringify(
        {
          interface: "slcan",
          channel: "/tmp/ttyCAN",
          devices: [
            {
              name: "Car",
              timeseries: [{ key: "rpm", nodeId: 1918, value: "4:2:big:int", expression }],
              attributeUpdates: [{ attributeOnThingsBoard: "level", nodeId: 2, dataExpression: update }],
              serverSideRpc: [{ method: "setSpeed", nodeId: 3, dataExpression: rpc }],
            },
          ],
        },
        null,
        2,
      );
    const bad = can("value / 4 + rpm_offset", "value +* 2", "speed if speed < 100 else lambda: 1");
    expect(await errors("can-bad", "can.json", bad, "can")).toEqual([
      `${place(bad, '"expression"', "rpm_offset")} devices[0].timeseries[0].expression: connector "Sensors": Python expression: unknown name "rpm_offset"; the variables here are value, can_data`,
      `${place(bad, '"attributeUpdates"', "*")} devices[0].attributeUpdates[0].dataExpression: connector "Sensors": Python expression: unexpected "*"`,
      `${place(bad, '"serverSideRpc"', "lambda")} devices[0].serverSideRpc[0].dataExpression: connector "Sensors": Python expression: lambda functions are not supported in expressions`,
    ]);
    const names = can("value", "value + level", "x");
    expect(await errors("can-names", "can.json", names, "can")).toEqual([
      `${place(names, '"value + level"', "level")} devices[0].attributeUpdates[0].dataExpression: connector "Sensors": Python expression: unknown name "level"; the variables here are value`,
    ]);
    expect(await errors("can-ok", "can.json", can("bool(value & 0b100) and can_data[0] > 1", "value + 5", "userSpeed if maxAllowedSpeed > userSpeed else maxAllowedSpeed"), "can")).toEqual([]);
  });
});
