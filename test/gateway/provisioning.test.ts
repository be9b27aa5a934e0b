// Provisioning (spec platform-api.md §1.2): no thingsboard.security, thingsboard.provisioning set.
// The harness answers /provision/request on the platform broker; the broker's own log shows the
// MQTT username of every CONNECT, so the test sees which credentials the gateway really used.

import { afterEach, describe, expect, test } from "bun:test";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import { startMosquitto, type Broker } from "../support/mosquitto.ts";
import { startPlatformHarness, type PlatformHarness } from "../support/platform.ts";
import type { Started } from "../support/process.ts";
import { makeTestPki } from "./certs.ts";
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

/** The gateway talks the gateway API (asked for its session limits) for the `n`-th time. */
function nthSession(h: PlatformHarness, n: number): Promise<unknown> {
  return h.waitFor((x) => x.received.filter((r) => r.body?.method === "getSessionLimits").length >= n || undefined, 20000, `session ${n} over the X.509 TLS listener`);
}

describe("provisioning X509_CERTIFICATE", () => {
  // The platform learns the gateway's certificate only from the request (`hash`), as ThingsBoard
  // does. Provisioning runs over plain MQTT on the platform port; then the broker is restarted on
  // that port as a TLS listener that trusts exactly that certificate (cafile = the `hash` PEM) and
  // requires a client certificate: the session can only start if the gateway presents the very
  // certificate it sent, with its key. use_identity_as_username puts the certificate's CN in the log.
  test("self-signed certificate sent as hash, saved as cert.pem/key.pem, TLS with it, reused on restart", async () => {
    const pki = makeTestPki();
    const trustDir = mkdtempSync(join(tmpdir(), "tbgw-x509-trust-"));
    chmodSync(trustDir, 0o755); // mosquitto drops root and must read the cafile
    const plain: Broker = await startMosquitto();
    let tlsBroker: Broker | undefined;
    let harness: PlatformHarness | undefined;
    try {
      const answer = { status: "SUCCESS", credentialsType: "X509_CERTIFICATE", credentialsValue: "issued-x509" };
      const { requests } = await startProvisioner(plain.url, () => answer);
      const main = provisioningConfig(plain.port, { type: "X509_CERTIFICATE", provisionDeviceKey: "pk", provisionDeviceSecret: "ps", deviceName: "GW x509", caCert: "ca.pem" });
      const files = writeGatewayConfig(main, { "ca.pem": readFileSync(pki.caCert, "utf8") });
      gw = await startGateway(files.configPath);
      const g = gw;
      await waitUntil(() => /provisioned: credentials saved/.test(g.output()), 15000, "provisioning", () => g.output());

      expect(requests.length).toBe(1);
      const req = requests[0];
      expect(req).toMatchObject({ provisionDeviceKey: "pk", provisionDeviceSecret: "ps", deviceName: "GW x509", gateway: true, credentialsType: "X509_CERTIFICATE" });
      const certPem = readFileSync(join(files.dir, "cert.pem"), "utf8");
      expect(req.hash).toBe(certPem);
      const cert = new X509Certificate(certPem);
      expect(cert.subject).toBe("CN=GW x509");
      expect(cert.issuer).toBe(cert.subject);
      expect(cert.verify(cert.publicKey)).toBe(true); // self-signed
      expect(cert.checkPrivateKey(createPrivateKey(readFileSync(join(files.dir, "key.pem"))))).toBe(true);
      expect(statSync(join(files.dir, "key.pem")).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(join(files.dir, ".credentials"), "utf8"))).toEqual({ ...answer, caCert: "ca.pem" });

      // Same port, now TLS trusting only the certificate the gateway sent.
      const trusted = join(trustDir, "provisioned.pem");
      writeFileSync(trusted, req.hash);
      chmodSync(trusted, 0o644);
      await plain.dispose();
      const tlsConf = [`listener ${plain.port} 127.0.0.1`, `cafile ${trusted}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, "require_certificate true", "use_identity_as_username true"];
      tlsBroker = await startMosquitto({ extraConfig: tlsConf.join("\n") });
      harness = await startPlatformHarness(tlsBroker.url);
      await nthSession(harness, 1);
      expect(connectUsernames(tlsBroker.output())).toContain("GW x509");
      expect(g.output()).toMatch(new RegExp(`127\\.0\\.0\\.1:${plain.port} \\(TLS\\) as X\\.509 certificate`));

      // The listener really checks: a valid client certificate from another CA is refused.
      const tb = tlsBroker;
      const other = mqtt.connectAsync(`mqtts://127.0.0.1:${plain.port}`, { ca: readFileSync(pki.caCert), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey), reconnectPeriod: 0, connectTimeout: 5000 });
      await expect(other).rejects.toThrow();
      expect(connectUsernames(tb.output())).not.toContain("tb-gw-test-client");

      // Restart: no second provisioning, same certificate, TLS again.
      await gw.stop();
      gw = await startGateway(files.configPath);
      await nthSession(harness, 2);
      expect(requests.length).toBe(1);
      expect(gw.output()).toMatch(/using provisioned credentials from .*\.credentials/);
      expect(readFileSync(join(files.dir, "cert.pem"), "utf8")).toBe(certPem);
      expect(connectUsernames(tb.output()).filter((u) => u === "GW x509").length).toBe(2);
    } finally {
      await harness?.close().catch(() => {});
      await tlsBroker?.dispose();
      await plain.dispose();
      rmSync(trustDir, { recursive: true, force: true });
      rmSync(pki.dir, { recursive: true, force: true });
    }
  }, 60000);
});
