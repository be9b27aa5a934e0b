// Remote general_configuration, storage_configuration and logs_configuration (spec platform-api.md
// §7) end to end: the harness plays the platform; a second broker + harness is the "new" platform.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import { startMosquitto, type Broker } from "../support/mosquitto.ts";
import { startPlatformHarness, type PlatformHarness } from "../support/platform.ts";
import { freePort } from "../support/ports.ts";
import type { Started } from "../support/process.ts";
import { sensorConnector, startWorld, type World } from "./fixtures.ts";

let world: World | undefined;
let gw: Started | undefined;
let second: { broker: Broker; harness: PlatformHarness } | undefined;

afterEach(async () => {
  await gw?.stop();
  await second?.harness.close().catch(() => {});
  await second?.broker.dispose();
  await world?.dispose();
  gw = world = second = undefined;
});

function attrsWith(h: PlatformHarness, key: string): any[] {
  return h.received.filter((r) => r.topic === "v1/devices/me/attributes" && r.body && typeof r.body === "object" && key in r.body).map((r) => r.body[key]);
}

async function start(env: Record<string, string> = {}) {
  world = await startWorld();
  const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, [{ name: "Sensors", type: "mqtt", configuration: "sensors.json" }], { remoteConfiguration: true }), {
    "sensors.json": sensorConnector(world.device.port),
  });
  gw = await startGateway(files.configPath, [], env);
  const current = await world.harness.waitFor((h) => attrsWith(h, "general_configuration")[0], 15000, "current configuration");
  return { files, current };
}

async function outputMatches(re: RegExp, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(gw!.output())) {
    if (Date.now() > end) throw new Error(`no line matching ${re}; output:\n${gw!.output()}`);
    await Bun.sleep(50); // only the process output tells; poll it
  }
}

/** Publish on the device broker until telemetry with `key` for `device` reaches harness `h`. */
async function publishUntil(h: PlatformHarness, topic: string, payload: object, device: string, key: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    await world!.deviceClient.publishAsync(topic, JSON.stringify(payload), { qos: 1 });
    try {
      await h.waitFor((x) => x.telemetry().some((r) => r.device === device && r.key === key), 300, `${key} from ${device}`);
      return;
    } catch {
      // not there yet; publish again
    }
  }
  throw new Error(`no ${key} from ${device}; gateway output:\n${gw?.output()}`);
}

function backups(dir: string, file: string): string[] {
  const b = join(dir, "backup");
  return existsSync(b) ? readdirSync(b).filter((f) => f.startsWith(`${file}.`)) : [];
}

describe("remote general/storage/logs configuration", () => {
  test("general_configuration with a new port: reconnects to the new platform, rewrites tb_gateway.json (backup), echoes there; data follows", async () => {
    const { files, current } = await start();
    const broker = await startMosquitto();
    second = { broker, harness: await startPlatformHarness(broker.url) };
    const next = { ...current, port: broker.port, minPackSendDelayMS: 20, ts: Date.now() };
    await world!.harness.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ general_configuration: next }), { qos: 1 });

    const h2 = second.harness;
    const echo = await h2.waitFor((x) => attrsWith(x, "general_configuration").find((v) => v.port === broker.port && v.ts === next.ts), 15000, "echo on the new platform");
    expect(echo).toEqual(next);
    const main = JSON.parse(readFileSync(files.configPath, "utf8"));
    expect(main.thingsboard.port).toBe(broker.port);
    expect(main.thingsboard.minPackSendDelayMS).toBe(20);
    expect(main.thingsboard.ts).toBeUndefined();
    expect(main.connectors.map((c: any) => c.name)).toEqual(["Sensors"]);
    const b = backups(files.dir, "tb_gateway.json");
    expect(b.length).toBe(1);
    expect(JSON.parse(readFileSync(join(files.dir, "backup", b[0]!), "utf8")).thingsboard.port).toBe(world!.platform.port);
    expect(gw!.output()).toMatch(/thingsboard minPackSendDelayMS written to .*; takes effect after restart/);
    await publishUntil(h2, "sensors/n-1", { temperature: 7 }, "n-1", "temperature");
  }, 60000);

  test("general_configuration whose platform does not answer: back on the old settings, file unchanged, no echo", async () => {
    const { files, current } = await start({ TB_GW_REMOTE_SWITCH_TIMEOUT_MS: "3000" });
    const before = readFileSync(files.configPath, "utf8");
    const dead = await freePort();
    const h = world!.harness;
    const sessionsBefore = attrsWith(h, "active_connectors").length;
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ general_configuration: { ...current, port: dead } }), { qos: 1 });
    await outputMatches(/did not give a session within 3 s; going back to 127\.0\.0\.1:\d+/);
    await outputMatches(/general_configuration not applied: no platform session with 127\.0\.0\.1:\d+ within 3 s/);
    // a new session on the old platform: the current configuration is published again
    await h.waitFor((x) => attrsWith(x, "active_connectors").length > sessionsBefore, 15000, "session on the old platform");
    expect(readFileSync(files.configPath, "utf8")).toBe(before);
    expect(attrsWith(h, "general_configuration").filter((v) => v.port === dead).length).toBe(1); // the push only
    await publishUntil(h, "sensors/o-1", { temperature: 1 }, "o-1", "temperature");
  }, 60000);

  test("storage_configuration is written (backup) for the next start, not applied live; echoed", async () => {
    const { files } = await start();
    const h = world!.harness;
    const storage = { type: "sqlite", data_file_path: "./data/db.sqlite", messages_ttl_check_in_hours: 1, messages_ttl_in_days: 7, ts: 1 };
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ storage_configuration: storage }), { qos: 1 });
    await h.waitFor((x) => attrsWith(x, "storage_configuration").filter((v) => v.type === "sqlite").length >= 2, 10000, "echo of storage_configuration");
    await outputMatches(/storage_configuration written to .*; takes effect after restart/);
    const main = JSON.parse(readFileSync(files.configPath, "utf8"));
    expect(main.storage).toEqual({ type: "sqlite", data_file_path: "./data/db.sqlite", messages_ttl_check_in_hours: 1, messages_ttl_in_days: 7 });
    expect(backups(files.dir, "tb_gateway.json").length).toBe(1);
    // still running on memory storage: data flows
    await publishUntil(h, "sensors/m-1", { temperature: 3 }, "m-1", "temperature");

    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ storage_configuration: { type: "tape" } }), { qos: 1 });
    await outputMatches(/storage_configuration is not a valid storage section \(storage\.type: .*\); nothing changed/);
    expect(JSON.parse(readFileSync(files.configPath, "utf8")).storage.type).toBe("sqlite");
  }, 60000);

  test("logs_configuration rewrites logs.json (backup) and applies its root level; echoed", async () => {
    const { files } = await start();
    const h = world!.harness;
    const first = { version: 1, root: { level: "WARNING", handlers: ["console"] }, ts: 1 };
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ logs_configuration: first }), { qos: 1 });
    await h.waitFor((x) => attrsWith(x, "logs_configuration").filter((v) => v.ts === 1).length >= 2, 10000, "echo of logs_configuration");
    expect(JSON.parse(readFileSync(join(files.dir, "logs.json"), "utf8"))).toEqual({ version: 1, root: { level: "WARNING", handlers: ["console"] } });
    expect(backups(files.dir, "logs.json").length).toBe(0); // there was no logs.json to back up

    const second = { version: 1, root: { level: "DEBUG", handlers: ["console"] }, ts: 2 };
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ logs_configuration: second }), { qos: 1 });
    await h.waitFor((x) => attrsWith(x, "logs_configuration").filter((v) => v.ts === 2).length >= 2, 10000, "second echo");
    expect(JSON.parse(readFileSync(join(files.dir, "logs.json"), "utf8")).root.level).toBe("DEBUG");
    const b = backups(files.dir, "logs.json");
    expect(b.length).toBe(1);
    expect(JSON.parse(readFileSync(join(files.dir, "backup", b[0]!), "utf8")).root.level).toBe("WARNING");
    // DEBUG lines now appear in the gateway's output (an unknown shared key is logged at DEBUG)
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ someKey: 1 }), { qos: 1 });
    await outputMatches(/ DEBUG .*shared attribute someKey is not a connector configuration/);
  }, 60000);
});
