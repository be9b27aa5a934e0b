// Remote configuration (spec platform-api.md §7) end to end: the harness plays the platform on a
// real broker, the gateway runs as a process with an MQTT connector reading a device broker.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { sensorConnector, startWorld, type World } from "./fixtures.ts";
import type { PlatformHarness } from "../support/platform.ts";

let world: World | undefined;
let gw: Started | undefined;

afterEach(async () => {
  await gw?.stop();
  await world?.dispose();
  gw = world = undefined;
});

/** Gateway client attributes (v1/devices/me/attributes) carrying `key`, in arrival order. */
function attrsWith(h: PlatformHarness, key: string): any[] {
  return h.received.filter((r) => r.topic === "v1/devices/me/attributes" && r.body && typeof r.body === "object" && key in r.body).map((r) => r.body[key]);
}

async function startRemoteConfigured(make: (devicePort: number) => Array<{ name: string; file: string; content: Record<string, unknown> }>) {
  world = await startWorld();
  const connectors = make(world.device.port);
  const files = writeGatewayConfig(
    mainConfig(world.platform.port, { type: "memory" }, connectors.map((c) => ({ name: c.name, type: "mqtt", configuration: c.file })), { remoteConfiguration: true }),
    Object.fromEntries(connectors.map((c) => [c.file, c.content])),
  );
  gw = await startGateway(files.configPath);
  // the current configuration is published once the session is up (and subscriptions are made)
  await world.harness.waitFor((h) => attrsWith(h, "active_connectors").length > 0, 15000, "current configuration");
  return files;
}

/** Publish on the device broker until telemetry with `key` for `device` reaches the platform. */
async function publishUntil(topic: string, payload: object, device: string, key: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await world!.deviceClient.publishAsync(topic, JSON.stringify(payload), { qos: 1 });
    try {
      await world!.harness.waitFor((h) => h.telemetry().some((r) => r.device === device && r.key === key), 300, `${key} from ${device}`);
      return;
    } catch {
      // connector (re)subscribing; publish again
    }
  }
  throw new Error(`no ${key} from ${device} reached the platform; gateway output:\n${gw?.output()}`);
}

describe("remote configuration", () => {
  test("publishes the current configuration as client attributes and asks for the shared keys", async () => {
    const files = await startRemoteConfigured((port) => [{ name: "Sensors", file: "sensors.json", content: sensorConnector(port) }]);
    const h = world!.harness;
    expect(attrsWith(h, "active_connectors")[0]).toEqual(["Sensors"]);
    expect(attrsWith(h, "general_configuration")[0]).toMatchObject({ host: "127.0.0.1", port: world!.platform.port, remoteConfiguration: true });
    expect(attrsWith(h, "storage_configuration")[0]).toMatchObject({ type: "memory" });
    expect(typeof attrsWith(h, "Version")[0]).toBe("string");
    const sensors = await h.waitFor((x) => attrsWith(x, "Sensors")[0], 5000, "connector attribute");
    const onDisk = JSON.parse(readFileSync(join(files.dir, "sensors.json"), "utf8"));
    expect(sensors).toMatchObject({ name: "Sensors", type: "mqtt", configuration: "sensors.json", logLevel: "INFO", configurationJson: onDisk });
    const req = await h.waitFor((x) => x.received.find((r) => r.topic.startsWith("v1/devices/me/attributes/request/")), 5000, "shared keys request");
    expect(req.body.sharedKeys.split(",")).toEqual(["RemoteLoggingLevel", "general_configuration", "storage_configuration", "grpc_configuration", "logs_configuration", "active_connectors"]);
  }, 40000);

  test("a pushed connector config restarts only that connector, data follows the new mapping, file backed up, value echoed", async () => {
    const files = await startRemoteConfigured((port) => [{ name: "Sensors", file: "sensors.json", content: sensorConnector(port) }]);
    const h = world!.harness;
    const port = world!.device.port;
    // before the push, the original mapping carries data
    await publishUntil("sensors/s-1", { temperature: 20 }, "s-1", "temperature");
    const next = sensorConnector(port);
    (next.mapping as any[])[0].topicFilter = "meters/+";
    (next.mapping as any[])[0].converter.deviceInfo.deviceNameExpression = "meters/(.*)";
    (next.mapping as any[])[0].converter.timeseries = [{ type: "double", key: "power", value: "${power}" }];
    const pushed = { name: "Sensors", type: "mqtt", configuration: "sensors.json", configurationJson: next, logLevel: "INFO" };
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ Sensors: pushed }), { qos: 1 });

    // echo: the harness sees its own push once, then the gateway's echo of the applied value
    await h.waitFor((x) => attrsWith(x, "Sensors").filter((v) => v.configurationJson?.mapping?.[0]?.topicFilter === "meters/+").length >= 2, 15000, "echo of the applied config");
    await publishUntil("meters/m-1", { power: 12.5 }, "m-1", "power");
    expect(h.telemetry().find((r) => r.device === "m-1" && r.key === "power")?.value).toBe(12.5);

    const onDisk = JSON.parse(readFileSync(join(files.dir, "sensors.json"), "utf8"));
    expect(onDisk.mapping[0].topicFilter).toBe("meters/+");
    const backups = readdirSync(join(files.dir, "backup")).filter((f) => f.startsWith("sensors.json."));
    expect(backups.length).toBe(1);
    expect(JSON.parse(readFileSync(join(files.dir, "backup", backups[0]!), "utf8")).mapping[0].topicFilter).toBe("sensors/+");
    const out = gw!.output();
    if (process.env.SHOW_GW_OUTPUT) console.log(out);
    expect(out.match(/restarting connector Sensors/g)?.length).toBe(1);
    expect(out).not.toMatch(/remote configuration.*(failed|not valid)/);
  }, 60000);

  test("a pushed config for a new connector adds it to tb_gateway.json and starts it; active_connectors removes the others", async () => {
    const files = await startRemoteConfigured((port) => [{ name: "Old", file: "old.json", content: sensorConnector(port) }]);
    const h = world!.harness;
    const next = sensorConnector(world!.device.port);
    (next.mapping as any[])[0].topicFilter = "meters/+";
    (next.mapping as any[])[0].converter.deviceInfo.deviceNameExpression = "meters/(.*)";
    (next.mapping as any[])[0].converter.timeseries = [{ type: "double", key: "power", value: "${power}" }];
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ Meters: { name: "Meters", type: "mqtt", configuration: "meters.json", configurationJson: next } }), { qos: 1 });
    await h.waitFor((x) => attrsWith(x, "Meters").length >= 2, 15000, "echo of the new connector");
    const main = JSON.parse(readFileSync(files.configPath, "utf8"));
    expect(main.connectors.map((c: any) => c.name)).toEqual(["Old", "Meters"]);
    expect(existsSync(join(files.dir, "meters.json"))).toBe(true);
    await publishUntil("meters/m-2", { power: 3 }, "m-2", "power");

    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ active_connectors: ["Meters"] }), { qos: 1 });
    await h.waitFor((x) => attrsWith(x, "active_connectors").filter((v) => JSON.stringify(v) === '["Meters"]').length >= 2, 15000, "echo of active_connectors");
    const after = JSON.parse(readFileSync(files.configPath, "utf8"));
    expect(after.connectors.map((c: any) => c.name)).toEqual(["Meters"]);
    expect(gw!.output()).toMatch(/connector "Old" is not in active_connectors: stopping it/);
    expect(readdirSync(join(files.dir, "backup")).filter((f) => f.startsWith("tb_gateway.json.")).length).toBe(2);
    // a plain broker echoes the gateway's client attributes back: two values of one key in flight
    // (the current configuration and the echo) must not bounce between them without end
    await gw!.stop();
    expect((gw!.output().match(/nothing to restart/g) ?? []).length).toBeLessThan(5);
  }, 60000);

  test("an invalid pushed config keeps the connector's file and running config; no echo", async () => {
    const files = await startRemoteConfigured((port) => [{ name: "Sensors", file: "sensors.json", content: sensorConnector(port) }]);
    const h = world!.harness;
    const original = readFileSync(join(files.dir, "sensors.json"), "utf8");
    const bad = { ...sensorConnector(world!.device.port), mapping: "not a list" };
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ Sensors: { name: "Sensors", type: "mqtt", configurationJson: bad } }), { qos: 1 });
    const g = gw!;
    const end = Date.now() + 10000;
    while (!/remote configuration for connector "Sensors" is not valid for a mqtt connector/.test(g.output())) {
      if (Date.now() > end) throw new Error(`no invalid-config log; output:\n${g.output()}`);
      await Bun.sleep(50); // only the process output tells; poll it
    }
    expect(readFileSync(join(files.dir, "sensors.json"), "utf8")).toBe(original);
    expect(attrsWith(h, "Sensors").filter((v) => v.configurationJson?.mapping === "not a list").length).toBe(1); // the push only
    await publishUntil("sensors/s-9", { temperature: 1 }, "s-9", "temperature");
  }, 40000);

  test("an invalid general_configuration is refused with a clear error; tb_gateway.json unchanged, no echo", async () => {
    const files = await startRemoteConfigured((port) => [{ name: "Sensors", file: "sensors.json", content: sensorConnector(port) }]);
    const h = world!.harness;
    const before = readFileSync(files.configPath, "utf8");
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ general_configuration: { host: "elsewhere", port: "not a port" } }), { qos: 1 });
    const g = gw!;
    const end = Date.now() + 10000;
    while (!/general_configuration is not a valid thingsboard section \(thingsboard\.port: .*\); nothing changed/.test(g.output())) {
      if (Date.now() > end) throw new Error(`no invalid-config log; output:\n${g.output()}`);
      await Bun.sleep(50); // only the process output tells; poll it
    }
    expect(readFileSync(files.configPath, "utf8")).toBe(before);
    expect(attrsWith(h, "general_configuration").filter((v) => v.host === "elsewhere").length).toBe(1); // the push only
    expect(g.proc.exitCode).toBeNull();
    await publishUntil("sensors/s-3", { temperature: 2 }, "s-3", "temperature");
  }, 40000);
});
