// The XMPP connector through the whole gateway (`tb-gw run` as its own process, from source and
// from the compiled binary): Prosody (Debian) started by the test, a slixmpp device logged in as
// upstream's sample device JID, Mosquitto with the harness playing the platform. The upstream
// sample xmpp.json is changed only in host/port and given the test server's certificate as CA.
// Uplink values, the attribute update and RPCs at the device, and a Prosody restart in between.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FROM_BOTH, gatewayBinary, mainConfig, startGatewayFrom, writeGatewayConfig, type GatewayFrom } from "../../../test/support/gateway.ts";
import { SAMPLES } from "../../../test/support/paths.ts";
import { deviceRpcReply, platformForFile } from "../../../test/support/platform.ts";
import { waitUntil } from "../../../test/support/poll.ts";
import type { Started } from "../../../test/support/process.ts";
import { startDevice } from "./test/device.ts";
import { startProsody, type Prosody } from "./test/prosody.ts";

const DEVICE_JID = "device@localhost/TMP_1101";

const platform = platformForFile();
let prosody: Prosody;
beforeAll(async () => {
  gatewayBinary();
  // The sample's gateway account is gateway@localhost with password "password".
  prosody = await startProsody({ accounts: { gateway: "password", device: "device-secret" } });
}, 240_000);
afterAll(async () => {
  await prosody?.stop();
});

function sampleConfig(): Record<string, any> {
  const cfg = JSON.parse(readFileSync(join(SAMPLES, "xmpp.json"), "utf8"));
  cfg.server.host = "127.0.0.1";
  cfg.server.port = prosody.port;
  cfg.server.ca_cert = prosody.certPath;
  return cfg;
}

const loggedIn = (gw: Started) => (gw.output().match(/\[XMPP\] logged in to /g) ?? []).length;
const attrsOf = (device: string, from: number) => platform.harness.received.slice(from).filter((r) => r.topic === "v1/gateway/attributes" && r.body?.[device]).map((r) => r.body[device]);
const telemetryOf = (device: string, from: number) => platform.harness.received.slice(from).filter((r) => r.topic === "v1/gateway/telemetry" && r.body?.[device]).flatMap((r) => r.body[device]);

describe("xmpp connector in the gateway", () => {
  for (const from of FROM_BOTH) {
    test(`upstream xmpp.json (${from}): the device's values on the platform, downlink at the device, across a Prosody restart`, async () => {
      const serial = `SN-${from}`;
      const files = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "xmpp", name: "XMPP", configuration: "xmpp.json" }]), { "xmpp.json": sampleConfig() });
      const mark = platform.harness.received.length;
      const gw = await startGatewayFrom(from as GatewayFrom, files.configPath, { timeoutMs: 60_000 });
      const device = startDevice(DEVICE_JID, "device-secret", prosody.port, "gateway@localhost");
      try {
        await waitUntil(() => loggedIn(gw) > 0, 30_000, "the gateway's XMPP session");
        await device.ready();

        // Uplink: what the Python gateway sends, but typed (it sends "21.5" and "40" as text).
        device.send(JSON.stringify({ serialNumber: serial, temp: 21.5, hum: 40 }));
        await platform.harness.waitFor(() => telemetryOf(serial, mark).length > 0 && attrsOf(serial, mark).some((a) => "temperature" in a), 20_000, "the sample device's data");
        expect(telemetryOf(serial, mark)[0]).toEqual({ ts: expect.any(Number), values: { humidity: 40, combination: "21.5:40" } });
        expect(attrsOf(serial, mark)).toContainEqual({ temperature: 21.5 });
        expect(platform.harness.received.slice(mark).find((r) => r.topic === "v1/gateway/connect" && r.body.device === serial)?.body).toEqual({ device: serial, type: "default" });

        // Downlink to the JID the device wrote from.
        let seen = device.received().length;
        await platform.harness.sendAttributeUpdate(serial, { shared: "on" });
        const update = await device.waitFor((m) => m.body === '{"shared":"on"}', "the attribute update at the device", 15_000, seen);
        expect(update.from).toStartWith("gateway@localhost/");

        const id = from === "source" ? 101 : 201;
        seen = device.received().length;
        await platform.harness.sendDeviceRpc(serial, id, "rpc1", { relay: true, level: 3 });
        await device.waitFor((m) => m.body === '{"relay":true,"level":3}', "rpc1's params at the device", 15_000, seen);
        const reply = await platform.harness.waitFor(() => deviceRpcReply(platform.harness, id), 15_000, "rpc1 reply");
        expect(reply.body).toEqual({ device: serial, id, data: { success: true } });

        seen = device.received().length;
        await platform.harness.sendDeviceRpc(serial, id + 1, "set", "mode=eco;target=21.5");
        await device.waitFor((m) => m.body === '{"mode":"eco","target":"21.5"}', "the set RPC at the device", 15_000, seen);
        expect((await platform.harness.waitFor(() => deviceRpcReply(platform.harness, id + 1), 15_000, "set reply")).body.data).toEqual({ success: true });

        // Prosody restarts: the gateway logs in again by itself, and both ways work again.
        await prosody.restart();
        await waitUntil(() => loggedIn(gw) > 1, 45_000, "the gateway's session after the restart");
        await device.ready(1, 45_000);
        const mark2 = platform.harness.received.length;
        device.send(JSON.stringify({ serialNumber: serial, temp: 22, hum: 41 }));
        await platform.harness.waitFor(() => telemetryOf(serial, mark2).some((t: any) => t.values.humidity === 41), 20_000, "data after the restart");
        seen = device.received().length;
        await platform.harness.sendDeviceRpc(serial, id + 2, "rpc1", "again");
        await device.waitFor((m) => m.body === '"again"', "RPC after the restart", 15_000, seen);
        expect(gw.output()).toMatch(/XMPP session to 127\.0\.0\.1:\d+ as gateway@localhost down: .+; reconnecting with backoff/);
      } finally {
        await device.stop();
        await gw.stop();
      }
    }, 180_000);
  }

  test("compiled binary, upstream xmpp.json without the CA: the self-signed server is refused, logged once while it retries; verify_certificate false logs in with a warning; use_ssl logs in with direct TLS", async () => {
    const noCa = sampleConfig();
    delete noCa.server.ca_cert;
    const refusedFiles = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "xmpp", name: "XMPP", configuration: "xmpp.json" }]), { "xmpp.json": noCa });
    const connections = () => (prosody.output().match(/Client connected/g) ?? []).length;
    const before = connections();
    const refused = await startGatewayFrom("binary", refusedFiles.configPath, { timeoutMs: 60_000 });
    try {
      // Three attempts reached Prosody (1 s, 2 s backoff in between): still one error line.
      await waitUntil(() => connections() >= before + 3, 30_000, "three login attempts");
      const down = refused.output().match(/\[XMPP\] XMPP session to .* down: .*/g) ?? [];
      expect(down.length).toBe(1);
      expect(down[0]).toMatch(/self[- ]signed certificate/);
      expect(loggedIn(refused)).toBe(0);
    } finally {
      await refused.stop();
    }

    const cfg = sampleConfig();
    delete cfg.server.ca_cert;
    cfg.server.verify_certificate = false;
    const offFiles = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "xmpp", name: "XMPP", configuration: "xmpp.json" }]), { "xmpp.json": cfg });
    const off = await startGatewayFrom("binary", offFiles.configPath, { timeoutMs: 60_000 });
    try {
      await waitUntil(() => loggedIn(off) > 0, 30_000, "a session without verification");
      expect(off.output()).toMatch(/\[XMPP\] logged in to .* \(TLS\)/);
      expect(off.output()).toContain("verify_certificate is false");
    } finally {
      await off.stop();
    }

    // use_ssl: direct TLS on Prosody's direct-TLS port, verified with the CA.
    const direct = sampleConfig();
    direct.server.use_ssl = true;
    direct.server.port = prosody.tlsPort;
    const directFiles = writeGatewayConfig(mainConfig(platform.port, { type: "memory" }, [{ type: "xmpp", name: "XMPP", configuration: "xmpp.json" }]), { "xmpp.json": direct });
    const tls = await startGatewayFrom("binary", directFiles.configPath, { timeoutMs: 60_000 });
    try {
      await waitUntil(() => loggedIn(tls) > 0, 30_000, "a direct TLS session");
      expect(tls.output()).toMatch(new RegExp(`\\[XMPP\\] logged in to 127\\.0\\.0\\.1:${prosody.tlsPort} .* \\(TLS\\)`));
    } finally {
      await tls.stop();
    }
  }, 150_000);
});
