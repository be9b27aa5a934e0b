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

test("useGRPCForce on a built-in connector: a warning that it runs in process", async () => {
  const files = withConnectors({ enabled: true }, [{ type: "grpc", name: "Ext", configuration: "ext.json", key: "k", useGRPCForce: true }]);
  const r = await checkGatewayConfig(files.configPath, { env: {} });
  expect(r.diagnostics.map((d) => d.message)).toContainEqual(expect.stringContaining("this setting is ignored"));
});
