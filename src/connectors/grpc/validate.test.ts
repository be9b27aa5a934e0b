// `validate` on configs with grpc connectors: the upstream sample section is accepted, a missing
// key or a server left off is said at the connector's place (warnings: `run` starts the others).

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { checkGatewayConfig } from "../../config/load.ts";
import { writeGatewayConfig } from "../../../test/support/gateway.ts";
import { SAMPLES } from "../../../test/support/paths.ts";

function withConnectors(grpc: Record<string, unknown>, connectors: unknown[]) {
  const main = JSON.parse(readFileSync(join(SAMPLES, "tb_gateway.json"), "utf8"));
  main.grpc = { ...main.grpc, ...grpc };
  main.connectors = connectors;
  return writeGatewayConfig(main, { "ext.json": { anything: { the: "process reads" } } });
}

test("upstream grpc section enabled, an auto-keyed grpc connector: valid, no diagnostics about it", async () => {
  const files = withConnectors({ enabled: true }, [{ type: "grpc", name: "Ext", configuration: "ext.json", key: "auto" }]);
  const r = await checkGatewayConfig(files.configPath, { env: {} });
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  expect(r.diagnostics.filter((d) => /grpc/i.test(d.message))).toEqual([]);
  expect(r.connectors.map((c) => c.entry.type)).toEqual(["grpc"]);
});

test("no key, server off: one warning each, naming the connector and the fix", async () => {
  const files = withConnectors({ enabled: false }, [{ type: "GRPC", name: "Ext", configuration: "ext.json" }]);
  const r = await checkGatewayConfig(files.configPath, { env: {} });
  const msgs = r.diagnostics.filter((d) => d.severity === "warning").map((d) => d.message);
  expect(msgs).toContainEqual(expect.stringContaining('connector "Ext" of type grpc needs a "key"'));
  expect(msgs).toContainEqual(expect.stringContaining('connector "Ext" of type grpc needs the gRPC server: set "grpc": {"enabled": true'));
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
});

test("useGRPCForce on a grpc entry is ignored; useGRPC (not upstream's name) is not read", async () => {
  const files = withConnectors({ enabled: true }, [
    { type: "grpc", name: "Ext", configuration: "ext.json", key: "k", useGRPCForce: true },
    { type: "mqtt", name: "Alias", configuration: "ext.json", useGRPC: true },
  ]);
  const r = await checkGatewayConfig(files.configPath, { env: {} });
  const msgs = r.diagnostics.map((d) => d.message);
  expect(msgs).toContainEqual(expect.stringContaining('connector "Ext": "useGRPCForce" applies to built-in connector types only; ignored for type "grpc"'));
  expect(msgs).toContainEqual(expect.stringContaining('connector "Alias": "useGRPC" is not read (upstream reads "useGRPCForce")'));
});

test("useGRPCForce on a built-in type: the server off, then no script, then a missing interpreter, each a warning at the entry naming the fix", async () => {
  const entry = { type: "mqtt", name: "Forced", configuration: "ext.json", useGRPCForce: true };
  const off = await checkGatewayConfig(withConnectors({ enabled: false }, [entry]).configPath, { env: {} });
  const offMsgs = off.diagnostics.filter((d) => d.severity === "warning").map((d) => d.message);
  expect(offMsgs).toContainEqual(expect.stringContaining('connector "Forced" has "useGRPCForce": true, so it runs as a separate Python gRPC process and needs the gRPC server: set "grpc": {"enabled": true'));
  expect(off.connectors.map((c) => c.descriptor?.title)).toEqual(["mqtt connector run as a separate Python gRPC process (useGRPCForce)"]);

  const files = withConnectors({ enabled: true, python: "/nonexistent/python3" }, [entry]);
  const r = await checkGatewayConfig(files.configPath, { env: {} });
  const msgs = r.diagnostics.filter((d) => d.severity === "warning").map((d) => d.message);
  expect(msgs).toContainEqual(expect.stringContaining(`no mqtt/mqtt_connector.py found (looked at ${join(files.dir, "grpc_connectors", "mqtt", "mqtt_connector.py")}, `));
  expect(msgs).toContainEqual(expect.stringContaining('Python interpreter /nonexistent/python3 not found; install it (Debian: apt-get install python3 python3-grpcio) or set "grpc": {"python"'));
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
});
