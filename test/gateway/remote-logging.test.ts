// RemoteLoggingLevel (spec platform-api.md §7) end to end: the harness plays the platform, sets the
// level as a shared attribute and reads the log lines arriving as gateway telemetry.

import { afterEach, describe, expect, test } from "bun:test";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import type { Started } from "../support/process.ts";
import type { PlatformHarness } from "../support/platform.ts";
import { sensorConnector, startWorld, type World } from "./fixtures.ts";

let world: World | undefined;
let gw: Started | undefined;

afterEach(async () => {
  await gw?.stop();
  await world?.dispose();
  gw = world = undefined;
});

/** Every publish on the gateway's own telemetry topic, as arrays of {ts, values}. */
function logPublishes(h: PlatformHarness): Array<Array<{ ts: number; values: Record<string, string> }>> {
  return h.received.filter((r) => r.topic === "v1/devices/me/telemetry").map((r) => (Array.isArray(r.body) ? r.body : [r.body]));
}

function logEntries(h: PlatformHarness) {
  return logPublishes(h).flat();
}

function onTopic(port: number, name: string, prefix: string) {
  const c = sensorConnector(port);
  (c.mapping as any[])[0].topicFilter = `${prefix}/+`;
  (c.mapping as any[])[0].converter.deviceInfo.deviceNameExpression = `${prefix}/(.*)`;
  return { name, content: c };
}

describe("remote logging", () => {
  test("RemoteLoggingLevel: records at or above it arrive as telemetry under the spec keys, batched ≤ 20, echoed", async () => {
    world = await startWorld();
    const port = world.device.port;
    const loud = onTopic(port, "Loud", "loud");
    const quiet = onTopic(port, "Quiet", "quiet");
    const files = writeGatewayConfig(
      mainConfig(world.platform.port, { type: "memory" }, [
        { name: "Loud", type: "mqtt", configuration: "loud.json", enableRemoteLogging: true },
        { name: "Quiet", type: "mqtt", configuration: "quiet.json" },
      ], { remoteConfiguration: true }),
      { "loud.json": loud.content, "quiet.json": quiet.content },
    );
    gw = await startGateway(files.configPath);
    const h = world.harness;
    await h.waitFor((x) => x.received.some((r) => r.topic.startsWith("v1/devices/me/attributes/request/")), 15000, "shared keys request");

    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ RemoteLoggingLevel: "WARNING" }), { qos: 1 });
    await h.waitFor((x) => x.received.filter((r) => r.topic === "v1/devices/me/attributes" && r.body?.RemoteLoggingLevel === "WARNING").length >= 2, 10000, "echo of RemoteLoggingLevel");

    // both connectors subscribed before the count starts (on a loaded machine the first messages
    // could reach the broker before the subscription and go nowhere): a probe each until dropped
    for (const t of ["loud", "quiet"]) {
      for (let i = 0; i < 100 && !gw.output().includes(`dropped message on ${t}/probe`); i++) {
        await world.deviceClient.publishAsync(`${t}/probe`, "not json {", { qos: 1 });
        await new Promise<void>((r) => {
          const timer = setTimeout(r, 300);
          gw!.proc.stderr!.once("data", () => (clearTimeout(timer), r()));
        });
      }
    }
    // 45 malformed messages per connector, each on its own topic: one WARNING line each
    for (let i = 0; i < 45; i++) {
      await world.deviceClient.publishAsync(`loud/d${i}`, "not json {", { qos: 1 });
      await world.deviceClient.publishAsync(`quiet/d${i}`, "not json {", { qos: 1 });
    }
    const deviceLines = (x: typeof h) => logEntries(x).filter((e) => /loud\/d\d+/.test(e.values.Loud_LOGS ?? ""));
    await h.waitFor((x) => deviceLines(x).length >= 45, 15000, "45 Loud_LOGS lines");
    const entries = logEntries(h);
    const loudLines = entries.filter((e) => e.values.Loud_LOGS).map((e) => e.values.Loud_LOGS!);
    expect(loudLines.every((l) => /\|WARNING\|/.test(l) && /dropped message on loud\/(d\d+|probe)/.test(l))).toBe(true);
    // connector lines are not duplicated under LOGS; the Quiet connector has remote logging off
    expect(entries.filter((e) => e.values.Loud_LOGS && e.values.LOGS).length).toBe(0);
    expect(entries.some((e) => Object.keys(e.values).some((k) => k.startsWith("Quiet")))).toBe(false);
    expect(entries.some((e) => /dropped message on quiet/.test(JSON.stringify(e.values)))).toBe(false);
    // batched: ≤ 20 per publish, and fewer publishes than lines
    const pubs = logPublishes(h);
    expect(pubs.every((p) => p.length <= 20)).toBe(true);
    expect(pubs.length).toBeLessThan(loudLines.length);
    // distinct timestamps per key, so the platform keeps every line
    expect(new Set(entries.filter((e) => e.values.Loud_LOGS).map((e) => e.ts)).size).toBe(loudLines.length);
    // INFO lines are below WARNING: none sent
    expect(entries.some((e) => /\|INFO\|/.test(JSON.stringify(e.values)))).toBe(false);

    // INFO: the gateway's own lines come as SERVICE_LOGS, duplicated under LOGS
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ RemoteLoggingLevel: "INFO" }), { qos: 1 });
    const svc = await h.waitFor((x) => logEntries(x).find((e) => /remote logging level set to INFO/.test(e.values.SERVICE_LOGS ?? "")), 10000, "SERVICE_LOGS line");
    expect(svc.values.LOGS).toBe(svc.values.SERVICE_LOGS);
    expect(svc.values.SERVICE_LOGS).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z - \|INFO\|<gateway:remote-config> - remote logging level set to INFO$/);

    // never recursive: with nothing happening, the number of log entries stops growing
    const settled = async () => {
      let last = -1;
      for (let i = 0; i < 40; i++) {
        const n = logEntries(h).length;
        if (n === last) return n;
        last = n;
        await Bun.sleep(250); // sampling the count over time is the point here
      }
      throw new Error(`log telemetry keeps growing: ${last}`);
    };
    const a = await settled();
    await Bun.sleep(1000);
    expect(logEntries(h).length).toBe(a);

    // NONE stops forwarding
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ RemoteLoggingLevel: "NONE" }), { qos: 1 });
    await h.waitFor((x) => x.received.filter((r) => r.topic === "v1/devices/me/attributes" && r.body?.RemoteLoggingLevel === "NONE").length >= 2, 10000, "echo of NONE");
    const before = logEntries(h).length;
    for (let i = 50; i < 55; i++) await world.deviceClient.publishAsync(`loud/d${i}`, "not json {", { qos: 1 });
    const end = Date.now() + 10000;
    while (!/dropped message on loud\/d54/.test(gw.output())) {
      if (Date.now() > end) throw new Error(`no drop line; output:\n${gw.output()}`);
      await Bun.sleep(50); // only the process output tells; poll it
    }
    await Bun.sleep(600); // longer than the flush delay: a forwarded line would have arrived
    expect(logEntries(h).length).toBe(before);
  }, 60000);

  test("an unknown RemoteLoggingLevel is refused with a clear error and not echoed", async () => {
    world = await startWorld();
    const files = writeGatewayConfig(mainConfig(world.platform.port, { type: "memory" }, [], { remoteConfiguration: true }));
    gw = await startGateway(files.configPath);
    const h = world.harness;
    await h.waitFor((x) => x.received.some((r) => r.topic.startsWith("v1/devices/me/attributes/request/")), 15000, "shared keys request");
    await h.client.publishAsync("v1/devices/me/attributes", JSON.stringify({ RemoteLoggingLevel: "LOUD" }), { qos: 1 });
    const g = gw;
    const end = Date.now() + 10000;
    while (!/RemoteLoggingLevel "LOUD" is not one of NONE, CRITICAL, ERROR, WARNING, INFO, DEBUG, TRACE/.test(g.output())) {
      if (Date.now() > end) throw new Error(`no error line; output:\n${g.output()}`);
      await Bun.sleep(50); // only the process output tells; poll it
    }
    expect(h.received.filter((r) => r.topic === "v1/devices/me/attributes" && r.body?.RemoteLoggingLevel === "LOUD").length).toBe(1);
  }, 40000);
});
