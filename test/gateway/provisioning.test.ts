// Provisioning (spec platform-api.md §1.2): no thingsboard.security, thingsboard.provisioning set.
// The harness answers /provision/request on the platform broker; the broker's own log shows the
// MQTT username of every CONNECT, so the test sees which credentials the gateway really used.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import { startWorld, type World } from "./fixtures.ts";

let world: World | undefined;
let gw: Started | undefined;
let provisioner: MqttClient | undefined;

afterEach(async () => {
  await gw?.stop();
  await provisioner?.endAsync(true).catch(() => {});
  await world?.dispose();
  gw = provisioner = world = undefined;
});

/** Answers every provisioning request with `answer(request)`; records the requests. */
async function startProvisioner(url: string, answer: (req: any) => object): Promise<{ requests: any[] }> {
  const requests: any[] = [];
  provisioner = await mqtt.connectAsync(url, { clientId: `provisioner-${Math.random().toString(16).slice(2)}` });
  provisioner.on("message", (_t, payload) => {
    const req = JSON.parse(payload.toString());
    requests.push(req);
    provisioner!.publish("/provision/response", JSON.stringify(answer(req)), { qos: 1 });
  });
  await provisioner.subscribeAsync("/provision/request", { qos: 1 });
  return { requests };
}

function provisioningConfig(port: number, provisioning: Record<string, unknown>): Record<string, unknown> {
  const main = mainConfig(port, { type: "memory" }, [], { provisioning });
  delete (main.thingsboard as any).security;
  return main;
}

/** Usernames of CONNECTs the broker logged (mosquitto: `... as <id> (p2, c1, k120, u'<user>').`). */
function connectUsernames(log: string): string[] {
  return [...log.matchAll(/New client connected from \S+ as \S+ \([^)]*u'([^']*)'\)/g)].map((m) => m[1]!);
}

async function waitUntil<T>(pick: () => T | undefined | false, timeoutMs: number, what: string, extra: () => string = () => ""): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = pick();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${extra()}`);
    await Bun.sleep(50); // polling a log file/output: there is no event to wait on
  }
}

describe("provisioning", () => {
  test("ACCESS_TOKEN: request shape, credentials saved, gateway connects with the issued token and reuses it on restart", async () => {
    world = await startWorld();
    const issued = `issued-${Math.random().toString(36).slice(2, 10)}`;
    const { requests } = await startProvisioner(world.platform.url, () => ({ status: "SUCCESS", credentialsType: "ACCESS_TOKEN", credentialsValue: issued }));
    const files = writeGatewayConfig(provisioningConfig(world.platform.port, { provisionDeviceKey: "pk", provisionDeviceSecret: "ps", deviceName: "GW one" }));
    gw = await startGateway(files.configPath);
    await world.harness.waitFor((h) => h.received.some((r) => r.topic.startsWith("v1/devices/me/rpc/request/")), 15000, "session start after provisioning");

    expect(requests.length).toBe(1);
    const req = requests[0];
    expect(req).toMatchObject({ provisionDeviceKey: "pk", provisionDeviceSecret: "ps", deviceName: "GW one", gateway: true, credentialsType: "ACCESS_TOKEN" });
    expect(req.token).toMatch(/^[a-z]{15}$/);
    const saved = JSON.parse(readFileSync(join(files.dir, ".credentials"), "utf8"));
    expect(saved).toEqual({ status: "SUCCESS", credentialsType: "ACCESS_TOKEN", credentialsValue: issued });
    const users = connectUsernames(world.platform.output());
    expect(users).toContain("provision");
    expect(users).toContain(issued);

    // restart: no second provisioning, same token
    await gw.stop();
    gw = await startGateway(files.configPath);
    const before = world.harness.received.length;
    await world.harness.waitFor((h) => h.received.slice(before).some((r) => r.topic.startsWith("v1/devices/me/rpc/request/")), 15000, "session start after restart");
    expect(requests.length).toBe(1);
    expect(gw.output()).toMatch(/using provisioned credentials from .*\.credentials/);
    expect(connectUsernames(world.platform.output()).filter((u) => u === issued).length).toBe(2);
  }, 60000);

  test("MQTT_BASIC: the gateway connects with the issued username and client id", async () => {
    world = await startWorld();
    await startProvisioner(world.platform.url, (req) => ({ status: "SUCCESS", credentialsType: "MQTT_BASIC", credentialsValue: { clientId: req.clientId, userName: req.username, password: req.password } }));
    const files = writeGatewayConfig(provisioningConfig(world.platform.port, { type: "MQTT_BASIC", provisionDeviceKey: "pk", provisionDeviceSecret: "ps", username: "gw-user", client_id: "gw-client" }));
    gw = await startGateway(files.configPath);
    await world.harness.waitFor((h) => h.received.some((r) => r.topic.startsWith("v1/devices/me/rpc/request/")), 15000, "session start");
    expect(world.platform.output()).toMatch(/as gw-client \([^)]*u'gw-user'\)/);
    expect(JSON.parse(readFileSync(join(files.dir, ".credentials"), "utf8")).credentialsValue.userName).toBe("gw-user");
  }, 40000);

  test("refused (status FAILURE): clear error, nothing saved, the gateway keeps running", async () => {
    world = await startWorld();
    const { requests } = await startProvisioner(world.platform.url, () => ({ status: "FAILURE", errorMsg: "Provision data was not found!" }));
    const files = writeGatewayConfig(provisioningConfig(world.platform.port, { provisionDeviceKey: "wrong", provisionDeviceSecret: "wrong" }));
    gw = await startGateway(files.configPath);
    const g = gw;
    await waitUntil(() => /provisioning failed: .*refused provisioning \(status "FAILURE": Provision data was not found!\).*retrying in 5 s/.test(g.output()), 15000, "refusal log", () => g.output());
    expect(requests.length).toBe(1);
    expect(existsSync(join(files.dir, ".credentials"))).toBe(false);
    expect(gw.proc.exitCode).toBeNull();
    expect(connectUsernames(world.platform.output()).filter((u) => u !== "provision")).toEqual([]);
  }, 40000);
});
