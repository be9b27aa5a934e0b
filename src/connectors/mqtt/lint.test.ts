// `tb-gw validate` warns about a shared subscription with a session that outlives the connection,
// at the setting, with file:line:col; clean sessions and ordinary filters get no warning.

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDiagnostic } from "../../config/diagnostics.ts";
import { checkGatewayConfig } from "../../config/load.ts";

const work = mkdtempSync(join(tmpdir(), "tbgw-mqtt-lint-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function warnings(broker: object, topicFilter = "$share/tbgw/sensors/+"): Promise<string[]> {
  const dir = mkdtempSync(join(work, "c"));
  const main = { thingsboard: { host: "127.0.0.1", port: 1883, security: { accessToken: "t" } }, storage: { type: "memory" }, connectors: [{ name: "Sensors", type: "mqtt", configuration: "mqtt.json" }] };
  writeFileSync(join(dir, "tb_gateway.json"), JSON.stringify(main, null, 2));
  const mqtt = { broker: { host: "127.0.0.1", ...broker }, mapping: [{ topicFilter, converter: { type: "json", deviceInfo: { deviceNameExpressionSource: "topic", deviceNameExpression: "sensors/(.*)" }, timeseries: "*" } }] };
  writeFileSync(join(dir, "mqtt.json"), JSON.stringify(mqtt, null, 2));
  const r = await checkGatewayConfig(join(dir, "tb_gateway.json"), { env: {} });
  expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return r.diagnostics.filter((d) => d.severity === "warning").map((d) => formatDiagnostic(d).split("\n")[0]!.replace(dir, "DIR"));
}

test("MQTT 3.1.1 persistent session on $share: a warning at cleanSession", async () => {
  expect(await warnings({ version: 4, cleanSession: false })).toEqual([
    'DIR/mqtt.json:5:21: warning: connector "Sensors": shared subscription "$share/tbgw/sensors/+" with a persistent session: while this instance is down the broker keeps its share of the stream for it (1/N of every device\'s messages), delivered only if it comes back and dropped when the session expires or the broker\'s queue for it is full (the other instances take over at once with cleanSession: true, the default; see README "Scaling out")',
  ]);
});

test("MQTT 5 session expiry on $share (and the $queue/ form): a warning at sessionExpiryInterval naming the seconds", async () => {
  const w = await warnings({ version: 5, cleanStart: false, sessionExpiryInterval: 30 }, "$queue/sensors/+");
  expect(w).toHaveLength(1);
  expect(w[0]).toMatch(/mqtt\.json:6:30: warning: connector "Sensors": shared subscription "\$queue\/sensors\/\+" with a session kept 30 s after a disconnect: .* waits at the broker for up to 30 s/);
});

test("no warning for clean sessions on $share, nor for persistent sessions on an ordinary filter", async () => {
  expect(await warnings({ version: 4 })).toEqual([]);
  expect(await warnings({ version: 5, cleanStart: false })).toEqual([]);
  expect(await warnings({ version: 4, cleanSession: false }, "sensors/+")).toEqual([]);
});
