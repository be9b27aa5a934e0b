// One config, N instances: what `--instance N` changes and what it leaves alone.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brokerClientId } from "../connectors/mqtt/client-options.ts";
import { defaultSocketPath, discoveryFile } from "../observe/status/paths.ts";
import { formatDiagnostic } from "./diagnostics.ts";
import { applyInstance, InstanceError, resolveInstance, socketForInstance } from "./instance.ts";
import { checkGatewayConfig, loadGatewayConfig } from "./load.ts";

const work = mkdtempSync(join(tmpdir(), "tbgw-instance-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function config(storage: object, extra: object = {}): string {
  const dir = mkdtempSync(join(work, "c"));
  const main = {
    thingsboard: { host: "127.0.0.1", port: 1883, security: { accessToken: "plant-gw-${instance}" } },
    storage,
    connectors: [{ name: "Inline", type: "mqtt", configurationJson: { broker: { host: "b" }, mapping: [{ topicFilter: "a/+", converter: { type: "json", deviceInfo: { deviceNameExpression: "${instance}" }, timeseries: "*" } }] } }],
    ...extra,
  };
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
  return join(dir, "tb_gateway.json");
}

test("instance id: --instance wins over TB_GW_INSTANCE; unset or empty is none; a bad id is refused", () => {
  expect(resolveInstance("2", { TB_GW_INSTANCE: "3" })).toBe("2");
  expect(resolveInstance(undefined, { TB_GW_INSTANCE: "3" })).toBe("3");
  expect(resolveInstance(undefined, { TB_GW_INSTANCE: "" })).toBeUndefined();
  expect(resolveInstance(undefined, {})).toBeUndefined();
  expect(() => resolveInstance("a/b", {})).toThrow(InstanceError);
  expect(() => resolveInstance(undefined, { TB_GW_INSTANCE: "../x" })).toThrow(/TB_GW_INSTANCE "..\/x" is not a valid instance id/);
});

test("${instance} in main-config strings is replaced, not inside inline connector configs; storage and socket get the id", async () => {
  const path = config({ type: "sqlite", data_file_path: "./data/data.db" }, { status: { socket: "/run/tb-gw/status.sock" } });
  const g = await loadGatewayConfig(path, { env: {}, instance: "2" });
  expect(g.config.thingsboard.security?.accessToken).toBe("plant-gw-2");
  expect(g.config.storage).toMatchObject({ data_file_path: join(g.configDir, "data", "instance-2") + "/" });
  expect(g.config.status?.socket).toBe("/run/tb-gw/status@2.sock");
  // a connector without an id gets one derived from its name, the same in every instance
  expect(g.connectors[0]!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect((await loadGatewayConfig(path, { env: {}, instance: "3" })).connectors[0]!.id).toBe(g.connectors[0]!.id);
  // converter templates use ${...} for message fields: left alone
  expect(JSON.stringify(g.connectors[0]!.config)).toContain('"deviceNameExpression":"${instance}"');
});

test("a placeholder in the storage path or socket is used as written; file storage gets instance-N below its folder", () => {
  const raw: any = { storage: { type: "file", data_folder_path: "/var/lib/tb-gw/${instance}/" }, status: { socket: "/run/gw-${instance}.sock" } };
  applyInstance(raw, "7", "/etc/tb-gw");
  expect(raw).toEqual({ storage: { type: "file", data_folder_path: "/var/lib/tb-gw/7/" }, status: { socket: "/run/gw-7.sock" } });
  const plain: any = { storage: { type: "file" } };
  applyInstance(plain, "7", "/etc/tb-gw");
  expect(plain.storage.data_folder_path).toBe("/etc/tb-gw/data/instance-7/");
  expect(socketForInstance("/tmp/x", "3")).toBe("/tmp/x@3");
});

test("without an instance nothing changes, and a ${instance} in the main config is an error at its place", async () => {
  const path = config({ type: "memory" });
  const r = await checkGatewayConfig(path, { env: {} });
  const errors = r.diagnostics.filter((d) => d.severity === "error").map((d) => formatDiagnostic(d));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/tb_gateway\.json:6:22: error: "\$\{instance\}" needs an instance id: run with --instance N \(or TB_GW_INSTANCE=N\)/);
  const plain: any = { storage: { type: "sqlite", data_file_path: "./data/" }, status: { socket: "/s.sock" } };
  expect(applyInstance(plain, undefined, "/etc/tb-gw")).toEqual([]);
  expect(plain).toEqual({ storage: { type: "sqlite", data_file_path: "./data/" }, status: { socket: "/s.sock" } });
});

test("MQTT client ids, default status socket and discovery file are per instance; unchanged without one", () => {
  expect(brokerClientId("plant-gw", "3")).toBe("plant-gw-3");
  expect(brokerClientId("gw-${instance}-a", "3")).toBe("gw-3-a");
  expect(brokerClientId("plant-gw", undefined)).toBe("plant-gw");
  expect(brokerClientId(undefined, "3")).toMatch(/^[a-z]{23}$/);
  expect(defaultSocketPath("2")).toMatch(/tb-gw(-\d+)?@2\.sock$/);
  expect(defaultSocketPath()).toMatch(/tb-gw(-\d+)?\.sock$/);
  expect(discoveryFile("/etc/tb-gw", "2")).not.toBe(discoveryFile("/etc/tb-gw"));
  expect(discoveryFile("/etc/tb-gw", "2")).toEndWith("@2.json");
});

test("with an instance, provisioning and remote configuration (state shared through the config folder) are warnings", async () => {
  const path = config({ type: "memory" }, { thingsboard: { host: "127.0.0.1", port: 1883, remoteConfiguration: true, provisioning: { type: "ACCESS_TOKEN", provisionDeviceKey: "k", provisionDeviceSecret: "s" } } });
  const r = await checkGatewayConfig(path, { env: {}, instance: "2" });
  const warnings = r.diagnostics.filter((d) => d.severity === "warning").map((d) => d.message);
  expect(warnings.some((m) => m.startsWith("provisioning saves its credentials in the config folder, which all instances share"))).toBe(true);
  expect(warnings.some((m) => m.startsWith("remote configuration rewrites the connector files that all instances share"))).toBe(true);
  const plain = await checkGatewayConfig(path, { env: {} });
  expect(plain.diagnostics.some((d) => /all instances share/.test(d.message))).toBe(false);
});
