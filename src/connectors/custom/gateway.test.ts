// Custom connectors through the compiled binary: the gateway object a connector gets (data with
// upstream's converted-data shape, shared attribute requests, the config with name and id) and the
// downlink reaching it (attribute updates, device RPC answered through sendRpcReply, connector
// RPC); and the three ways user code fails — a module that does not load, open() that throws, a
// class that is not there — each one clear error while the other connector keeps running.

import { beforeAll, describe, expect, test } from "bun:test";
import { gatewayBinary, startGatewayFrom } from "../../../test/support/gateway.ts";
import { deviceRpcReply, platformForFile } from "../../../test/support/platform.ts";
import type { Started } from "../../../test/support/process.ts";
import { FAILS_LATER, PROBE, SYNTAX_ERROR, THROWS_IN_OPEN } from "./test/contract-extensions.ts";
import { customWorld, writeExtension } from "./test/config.ts";

const platform = platformForFile();
let gw: Started | undefined;
let dir = "";

const CONNECTORS = [
  { type: "probe", class: "ProbeConnector", name: "Probe", configuration: "probe.json" },
  { type: "thrower", class: "ThrowingConnector", name: "Thrower", configuration: "thrower.json" },
  { type: "broken", class: "BrokenConnector", name: "Broken", configuration: "broken.json" },
  { type: "probe", class: "NoSuchConnector", name: "Missing", configuration: "missing.json" },
  { type: "late", class: "LateConnector", name: "Late", configuration: "late.json" },
];

beforeAll(async () => {
  platform.harness.sharedAttributes.Probe1 = { limit: 99 };
  gatewayBinary();
  const files = customWorld(
    platform.port,
    CONNECTORS,
    { "probe.json": { setting: 1 }, "thrower.json": { setting: 2 }, "broken.json": { setting: 3 }, "missing.json": { setting: 4 }, "late.json": { setting: 5 } },
    (d) => {
      writeExtension(d, "probe", "probe.js", PROBE);
      writeExtension(d, "thrower", "thrower.ts", THROWS_IN_OPEN);
      writeExtension(d, "broken", "broken.ts", SYNTAX_ERROR);
      writeExtension(d, "late", "late.js", FAILS_LATER);
    },
  );
  dir = files.dir;
  gw = await startGatewayFrom("binary", files.configPath, { timeoutMs: 60_000 });
}, 240_000);

// the gateway goes before the platform it sends to
platform.beforeDispose(() => gw?.stop());

const errorLines = (name: string) => gw!.output().split("\n").filter((l) => l.includes(`connector ${name} not started`));

describe("custom connectors from the binary", () => {
  test("the working connector's data reaches the platform with the config's name and id and a shared attribute it asked for", async () => {
    const attrs = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body.Probe1?.configName !== undefined), 20_000, "Probe1 attributes");
    expect(attrs.body.Probe1).toMatchObject({ connectorType: "probe", configName: "Probe", idLength: 36 });
    const shared = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/gateway/attributes" && r.body.Probe1?.sharedLimit !== undefined), 20_000, "the shared attribute");
    expect(shared.body.Probe1.sharedLimit).toBe(99);
    await platform.harness.waitFor((h) => h.telemetry().find((t) => t.device === "Probe1" && t.key === "started" && t.ts === 1700000000000), 20_000, "started");
    expect(gw!.output()).toContain(`probe open, config path ${dir}/`);
  }, 30_000);

  test("a module that does not load, open() that throws, a missing class: one clear error each, the other connector keeps running", async () => {
    const beats = () => platform.harness.telemetry().filter((t) => t.device === "Probe1" && t.key === "beat").length;
    const now = beats();
    await platform.harness.waitFor(() => beats() >= now + 3, 20_000, "Probe1 still beating");
    const thrower = errorLines("Thrower");
    expect(thrower).toHaveLength(1);
    expect(thrower[0]).toContain("extensions/thrower/thrower.ts class ThrowingConnector: open failed: the device is not plugged in");
    const broken = errorLines("Broken");
    expect(broken).toHaveLength(1);
    expect(broken[0]).toMatch(/custom connector class BrokenConnector not found in .*extensions\/broken: broken\.ts failed to load: .+; the folder exports no class/);
    const missing = errorLines("Missing");
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatch(/custom connector class NoSuchConnector not found in .*extensions\/probe; the folder exports: ProbeConnector \(probe\.js\)/);
  }, 30_000);

  test("an exception thrown later in a connector's own timer, and a rejection nobody awaits, are logged; the gateway goes on", async () => {
    const lines = () => gw!.output().split("\n").filter((l) => l.includes("in extension code"));
    await platform.harness.waitFor(() => lines().length >= 2 || undefined, 20_000, "the two late errors logged").catch(() => {});
    const found = lines();
    expect(found.some((l) => /uncaught exception in extension code \(.*extensions\/late\/late\.js.*\): late failure in a timer; the gateway goes on/.test(l))).toBe(true);
    expect(found.some((l) => /unhandled rejection in extension code .*: late rejection; the gateway goes on/.test(l))).toBe(true);
    const beats = () => platform.harness.telemetry().filter((t) => t.device === "Probe1" && t.key === "beat").length;
    const now = beats();
    await platform.harness.waitFor(() => beats() >= now + 3, 20_000, "Probe1 still beating after the late errors");
  }, 30_000);

  test("attribute update and device RPC reach the connector; its sendRpcReply answers; connector RPC too", async () => {
    await platform.harness.sendAttributeUpdate("Probe1", { mode: "eco" });
    await platform.harness.waitFor((h) => h.telemetry().find((t) => t.device === "Probe1" && t.key === "echoed" && t.value === JSON.stringify({ mode: "eco" })), 20_000, "echoed attribute update");
    await platform.harness.sendDeviceRpc("Probe1", 71, "double", { x: 21 });
    expect((await platform.harness.waitFor((h) => deviceRpcReply(h, 71), 20_000, "RPC reply")).body.data).toEqual({ op: "double", doubled: 42 });
    await platform.harness.sendGatewayRpc(72, "probe_status", { q: 1 });
    const reply = await platform.harness.waitFor((h) => h.received.find((r) => r.topic === "v1/devices/me/rpc/response/72"), 20_000, "connector RPC reply");
    expect(reply.body).toEqual({ connectorRpc: "probe_status", params: { q: 1 } });
  }, 30_000);
});
