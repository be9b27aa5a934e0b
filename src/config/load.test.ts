// Loader behaviour the gateway relies on: env overrides, discovery order, YAML, inline configs,
// upstream quirks (id written back only by run, name injected, reportStrategy taken out), and
// the `validate --sample` dry run through a test connector.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testDescriptors } from "../../test/validate/test-connector.ts";
import { ConfigError, formatDiagnostic } from "./diagnostics.ts";
import { applyEnvOverrides, discoverConfig } from "./discover.ts";
import { checkGatewayConfig, loadGatewayConfig, withLeadingId } from "./load.ts";
import { runValidate } from "./validate-command.ts";

const work = mkdtempSync(join(tmpdir(), "tbgw-load-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
function folder(files: Record<string, string>): string {
  const dir = join(work, `c${n++}`);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}
const MAIN = (connectors: object[] = []) =>
  JSON.stringify({ thingsboard: { host: "127.0.0.1", port: 1883, security: { accessToken: "t0k" } }, storage: { type: "memory" }, connectors }, null, 2);
const A = JSON.stringify({ reportStrategy: { type: "on_change" }, devices: [{ deviceName: "Pump 1", timeseries: ["temperature"], attributes: ["model"] }] }, null, 2);
const opts = { env: {}, descriptors: testDescriptors };

describe("environment overrides", () => {
  test("merge over thingsboard and thingsboard.security; prefixed names win; ports become numbers", () => {
    const cfg: any = { thingsboard: { host: "a", port: 1883, security: { accessToken: "x" } } };
    const applied = applyEnvOverrides(cfg, { TB_GW_HOST: "b", host: "c", TB_GW_PORT: "8883", TB_GW_ACCESS_TOKEN: "y", TB_GW_RATE_LIMITS: "10:1," });
    expect(cfg.thingsboard).toEqual({ host: "b", port: 8883, security: { accessToken: "y" }, rateLimits: "10:1," });
    expect(applied.map((a) => a.variable)).toEqual(["TB_GW_HOST", "TB_GW_PORT", "TB_GW_ACCESS_TOKEN", "TB_GW_RATE_LIMITS"]);
  });

  test("the loaded config carries the override", async () => {
    const dir = folder({ "tb_gateway.json": MAIN() });
    const g = await loadGatewayConfig(join(dir, "tb_gateway.json"), { env: { TB_GW_HOST: "10.1.2.3", TB_GW_SECURITY_TYPE: "accessToken" } });
    expect(g.config.thingsboard.host).toBe("10.1.2.3");
    expect(g.config.thingsboard.security?.type).toBe("accessToken");
  });
});

describe("discovery", () => {
  test("./tb_gateway.json before ./config/tb_gateway.json; YAML found too", () => {
    const dir = folder({ "config/tb_gateway.json": "{}" });
    expect(discoverConfig(dir)).toBe(join(dir, "config/tb_gateway.json"));
    writeFileSync(join(dir, "tb_gateway.yaml"), "{}");
    expect(discoverConfig(dir)).toBe(join(dir, "tb_gateway.yaml"));
    writeFileSync(join(dir, "tb_gateway.json"), "{}");
    expect(discoverConfig(dir)).toBe(join(dir, "tb_gateway.json"));
  });
});

describe("loading", () => {
  test("YAML main config gives the same config as JSON, defaults applied", async () => {
    const dir = folder({ "tb_gateway.json": MAIN(), "tb_gateway.yaml": "# comments are fine in YAML\nthingsboard:\n  host: 127.0.0.1\n  port: 1883\n  security:\n    accessToken: t0k\nstorage:\n  type: memory\n" });
    const j = await loadGatewayConfig(join(dir, "tb_gateway.json"), opts);
    const y = await loadGatewayConfig(join(dir, "tb_gateway.yaml"), opts);
    expect(y.config).toEqual(j.config);
    expect(y.config.thingsboard.maxPayloadSizeBytes).toBe(8196);
    // Both present: the YAML named is read, with a warning that upstream would read the JSON one.
    expect(y.diagnostics.map((d) => `${d.severity}: ${d.message}`)).toEqual([
      "warning: tb_gateway.json exists beside this file: tb-gw reads this YAML file, the Python gateway would read the JSON one. Remove the one you do not maintain",
    ]);
    expect(y.diagnostics[0]!.line).toBe(2); // the document starts after the comment line
    expect(j.diagnostics).toEqual([]);
  });

  test("connector file: name injected, reportStrategy taken out, relative to the config folder", async () => {
    const dir = folder({ "tb_gateway.json": MAIN([{ name: "Pumps", type: "TestDev", configuration: "conf/a.json" }]), "conf/a.json": A });
    const g = await loadGatewayConfig(join(dir, "tb_gateway.json"), opts);
    const c = g.connectors[0]!;
    expect(c.file).toBe(join(dir, "conf/a.json"));
    expect(c.reportStrategy).toEqual({ type: "ON_CHANGE" });
    expect((c.raw as any).reportStrategy).toBeUndefined();
    expect((c.config as any).name).toBe("Pumps");
    expect((c.config as any).devices[0].pollPeriod).toBe(5000);
    expect(c.descriptor?.type).toBe("testdev");
  });

  test("inline configurationJson is checked in place", async () => {
    const dir = folder({ "tb_gateway.json": MAIN([{ name: "Inline", type: "testdev", configurationJson: { listenPort: 99999 } }]) });
    const r = await checkGatewayConfig(join(dir, "tb_gateway.json"), opts);
    expect(r.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`)).toEqual([
      "17:23 connectors[0].configurationJson.listenPort = 99999 is out of range: must be at most 65535",
    ]);
  });

  test("a missing id is generated; run writes it back, validate never writes", async () => {
    const dir = folder({ "tb_gateway.json": MAIN([{ name: "Pumps", type: "testdev", configuration: "a.json" }]), "a.json": A });
    const file = join(dir, "a.json");
    const checked = await checkGatewayConfig(join(dir, "tb_gateway.json"), opts);
    expect(checked.connectors[0]!.generatedId).toBe(true);
    expect(readFileSync(file, "utf8")).toBe(A);
    expect(await runValidate(join(dir, "tb_gateway.json"), { quiet: true }, { out() {}, err() {} }, opts)).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(A);
    const g = await loadGatewayConfig(join(dir, "tb_gateway.json"), { ...opts, writeIds: true });
    const written = JSON.parse(readFileSync(file, "utf8"));
    expect(written.id).toBe(g.connectors[0]!.id);
    expect(written.devices).toEqual(JSON.parse(A).devices);
    const again = await loadGatewayConfig(join(dir, "tb_gateway.json"), { ...opts, writeIds: true });
    expect(again.connectors[0]!.id).toBe(g.connectors[0]!.id);
    expect(again.connectors[0]!.generatedId).toBe(false);
  });

  test("the id is written as the first member, spaced like the file; an empty id is replaced, not repeated", async () => {
    expect(withLeadingId('{\n  "a": 1\n}\n', "u1")).toBe('{\n  "id": "u1",\n  "a": 1\n}\n');
    expect(withLeadingId('{"a":{"b":[1]}}', "u1")).toBe('{"id": "u1","a":{"b":[1]}}');
    expect(withLeadingId('\uFEFF{\r\n\t"a": 1}', "u1")).toBe('\uFEFF{\r\n\t"id": "u1",\r\n\t"a": 1}');
    expect(withLeadingId("{}", "u1")).toBeUndefined();
    for (const text of ['{\n  "a": 1\n}\n', '{"a":{"id":"inner"}}']) expect(JSON.parse(withLeadingId(text, "u2")!)).toEqual({ id: "u2", ...JSON.parse(text) });
    const dir = folder({ "tb_gateway.json": MAIN([{ name: "Pumps", type: "testdev", configuration: "a.json" }]), "a.json": A.replace("{", '{\n  "id": "",') });
    const g = await loadGatewayConfig(join(dir, "tb_gateway.json"), { ...opts, writeIds: true });
    const written = JSON.parse(readFileSync(join(dir, "a.json"), "utf8"));
    expect(written).toEqual({ ...JSON.parse(A), id: g.connectors[0]!.id });
    expect(readFileSync(join(dir, "a.json"), "utf8").match(/"id"/g)).toHaveLength(1);
  });

  test("errors throw one ConfigError carrying every diagnostic, printable without a stack", async () => {
    const dir = folder({ "tb_gateway.json": '{\n  "thingsboard": {"host": "", "port": -1},\n  "storage": {"type": "disk"}\n}\n' });
    const e = await loadGatewayConfig(join(dir, "tb_gateway.json"), opts).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    const diags = (e as ConfigError).diagnostics;
    expect(diags.filter((d) => d.severity === "error").length).toBe(4); // host empty, port, storage type, no credentials
    expect((e as ConfigError).message).toContain(`${join(dir, "tb_gateway.json")}:2:39: error: thingsboard.port = -1 is out of range`);
  });

  test("the caret excerpt points under the column", () => {
    const text = formatDiagnostic({ file: "f.json", line: 3, col: 5, severity: "error", message: "m", lineText: "\tab cd", length: 2 });
    expect(text).toBe("f.json:3:5: error: m\n    3 |  ab cd\n      |     ^~");
  });
});

describe("validate --sample", () => {
  const capture = () => {
    const io = { stdout: "", stderr: "", out: (s: string) => void (io.stdout += s + "\n"), err: (s: string) => void (io.stderr += s + "\n") };
    return io;
  };
  const dir = () =>
    folder({
      "tb_gateway.json": MAIN([
        { name: "Pumps", type: "testdev", configuration: "a.json" },
        { name: "Blind", type: "nosample", configuration: "a.json" },
      ]),
      "a.json": A,
      "sample.json": JSON.stringify({ temperature: 21.5, model: "P-100", other: 1 }),
      "empty.json": "{}",
    });

  test("prints what the converter would send, as text or JSON", async () => {
    const d = dir();
    const io = capture();
    expect(await runValidate(join(d, "tb_gateway.json"), { sample: join(d, "sample.json"), connector: "Pumps" }, io, opts)).toBe(0);
    expect(io.stdout).toContain('device "Pump 1" (type default)');
    expect(io.stdout).toContain('model = "P-100"');
    expect(io.stdout).toContain("temperature = 21.5");
    const j = capture();
    expect(await runValidate(join(d, "tb_gateway.json"), { sample: join(d, "sample.json"), connector: "Pumps", format: "json" }, j, opts)).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual([{ deviceName: "Pump 1", deviceType: "default", attributes: { model: "P-100" }, telemetry: [{ ts: 1700000000000, values: { temperature: 21.5 } }] }]);
  });

  test("no data, no converter, unknown connector: clear messages and exit codes", async () => {
    const d = dir();
    const empty = capture();
    expect(await runValidate(join(d, "tb_gateway.json"), { sample: join(d, "empty.json"), connector: "Pumps" }, empty, opts)).toBe(1);
    expect(empty.stderr).toContain('produced nothing for this sample');
    const blind = capture();
    expect(await runValidate(join(d, "tb_gateway.json"), { sample: join(d, "sample.json"), connector: "Blind" }, blind, opts)).toBe(1);
    expect(blind.stderr).toContain("the nosample connector has no offline converter");
    const unknown = capture();
    expect(await runValidate(join(d, "tb_gateway.json"), { sample: join(d, "sample.json"), connector: "Nope" }, unknown, opts)).toBe(2);
    expect(unknown.stderr).toContain('no connector named "Nope"; connectors: "Pumps", "Blind"'.replace("Nope\"", "Nope\" in " + join(d, "tb_gateway.json")));
  });
});

describe("strict connector schemas", () => {
  test("reserved keys (id, name, logLevel) are not reported against a strict schema; its own unknown keys are errors", async () => {
    const { z } = await import("./zod.ts");
    const strict = { ...testDescriptors.testdev, type: "strictdev", schema: z.strictObject({ port: z.number() }) } as any;
    const dir = folder({
      "tb_gateway.json": MAIN([{ name: "S", type: "strictdev", configuration: "s.json" }]),
      "s.json": '{\n  "id": "x1",\n  "logLevel": "INFO",\n  "port": 1,\n  "prot": 2\n}\n',
    });
    const r = await checkGatewayConfig(join(dir, "tb_gateway.json"), { env: {}, descriptors: { strictdev: strict } });
    expect(r.diagnostics.map((d) => `${d.line}:${d.col} ${d.severity} ${d.message}`)).toEqual([
      '5:3 error unknown field "prot" at the top level (did you mean "port"?)',
    ]);
  });
});
