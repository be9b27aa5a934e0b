// Platform security types over real Mosquitto listeners: tlsAccessToken (CA only), tlsPrivateKey
// (the broker requires a client certificate), a wrong CA, and usernamePassword with a password file.
// The platform harness uses a plain listener of the same broker; the gateway only knows the other.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import { startMosquitto, type Broker } from "../support/mosquitto.ts";
import { startPlatformHarness, type PlatformHarness } from "../support/platform.ts";
import { freePort } from "../support/ports.ts";
import type { Started } from "../support/process.ts";
import { makeTestPki, type TestPki } from "./certs.ts";

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

interface SecuredPlatform {
  broker: Broker;
  harness: PlatformHarness;
  /** The port the gateway connects to (TLS or password-protected). */
  gatewayPort: number;
}

async function securedPlatform(listener: (port: number) => string): Promise<SecuredPlatform> {
  const gatewayPort = await freePort();
  const broker = await startMosquitto({ extraConfig: listener(gatewayPort) });
  const harness = await startPlatformHarness(broker.url);
  return { broker, harness, gatewayPort };
}

const tlsListener = (requireCert: boolean) => (port: number) =>
  [`listener ${port} 127.0.0.1`, `cafile ${pki.caCert}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, `require_certificate ${requireCert}`].join("\n");

/** Run the gateway against `p` with `security`, hand it to `body`, always clean up. */
async function withGateway(p: SecuredPlatform, security: Record<string, unknown>, body: (gw: Started) => Promise<void>): Promise<void> {
  let gw: Started | undefined;
  try {
    const files = writeGatewayConfig(mainConfig(p.gatewayPort, { type: "memory" }, [], { security }));
    gw = await startGateway(files.configPath);
    await body(gw);
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    await gw?.stop();
    await p.harness.close().catch(() => {});
    await p.broker.dispose();
  }
}

/** The gateway is through CONNECT and talks the gateway API once it asks for its session limits. */
function sessionStarted(h: PlatformHarness): Promise<unknown> {
  return h.waitFor((x) => x.received.find((r) => r.topic.startsWith("v1/devices/me/rpc/request/") && r.body?.method === "getSessionLimits"), 15000, "getSessionLimits over the secured listener");
}

/** Resolves once the gateway logged `n` retries (event driven on its output). */
async function retries(gw: Started, n: number, timeoutMs = 20000): Promise<number[]> {
  const until = Date.now() + timeoutMs;
  while ((gw.output().match(/retrying in/g) ?? []).length < n && Date.now() < until && gw.proc.exitCode === null) {
    await new Promise<void>((r) => {
      const t = setTimeout(r, until - Date.now());
      gw.proc.stderr!.once("data", () => {
        clearTimeout(t);
        r();
      });
    });
  }
  return [...gw.output().matchAll(/retrying in ([\d.]+) s/g)].map((m) => Number(m[1]));
}

describe("TLS to the platform", () => {
  test("tlsAccessToken: server verified against caCert, token as user name", async () => {
    const p = await securedPlatform(tlsListener(false));
    await withGateway(p, { type: "tlsAccessToken", accessToken: "tls-token-1", caCert: pki.caCert }, async (gw) => {
      await sessionStarted(p.harness);
      expect(gw.output()).toMatch(new RegExp(`127\\.0\\.0\\.1:${p.gatewayPort} \\(TLS\\)`));
      expect(p.broker.output()).toMatch(/u'tls-token-1'/);
    });
  }, 30000);

  test("tlsPrivateKey: the broker requires a client certificate and accepts ours", async () => {
    const p = await securedPlatform(tlsListener(true));
    await withGateway(p, { type: "tlsPrivateKey", caCert: pki.caCert, cert: pki.clientCert, privateKey: pki.clientKey }, async () => {
      await sessionStarted(p.harness);
    });
  }, 30000);

  test("tlsAccessToken without a client certificate is refused where one is required (the check above is real)", async () => {
    const p = await securedPlatform(tlsListener(true));
    await withGateway(p, { type: "tlsAccessToken", accessToken: "no-cert", caCert: pki.caCert }, async (gw) => {
      expect((await retries(gw, 2)).length).toBeGreaterThanOrEqual(2);
      expect(p.harness.received.some((r) => r.body?.method === "getSessionLimits")).toBe(false);
    });
  }, 30000);

  test("wrong CA: a clear verification error naming the CA file, growing backoff, no crash", async () => {
    const p = await securedPlatform(tlsListener(false));
    await withGateway(p, { type: "tlsAccessToken", accessToken: "t", caCert: pki.otherCaCert }, async (gw) => {
      const delays = await retries(gw, 3);
      expect(delays.length).toBeGreaterThanOrEqual(3);
      expect(delays[2]!).toBeGreaterThan(delays[0]!);
      const out = gw.output();
      expect(out).toMatch(/certificate/i);
      expect(out).toContain(pki.otherCaCert);
      expect(p.harness.received.some((r) => r.body?.method === "getSessionLimits")).toBe(false);
    });
  }, 40000);
});

describe("usernamePassword", () => {
  let passwordFile: string;
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), "tbgw-passwd-"));
    passwordFile = join(dir, "passwd");
    writeFileSync(passwordFile, "");
    execFileSync("mosquitto_passwd", ["-b", passwordFile, "gw-user", "s3cret"]);
    // Mosquitto started as root drops to its own user: let it read the file.
    chmodSync(dir, 0o755);
    chmodSync(passwordFile, 0o644);
  });

  /** Mosquitto checks any client that gives a user name against the file; the harness gives none. */
  async function passwordPlatform(): Promise<SecuredPlatform> {
    const broker = await startMosquitto({ extraConfig: `password_file ${passwordFile}` });
    const harness = await startPlatformHarness(broker.url);
    return { broker, harness, gatewayPort: broker.port };
  }

  test("right password: connected as that user, with the configured client id", async () => {
    const p = await passwordPlatform();
    await withGateway(p, { type: "usernamePassword", username: "gw-user", password: "s3cret", clientId: "gw-client-7" }, async () => {
      await sessionStarted(p.harness);
      expect(p.broker.output()).toMatch(/as gw-client-7 .*u'gw-user'/);
    });
  }, 30000);

  test("wrong password: one clear refusal, growing backoff, no crash", async () => {
    const p = await passwordPlatform();
    await withGateway(p, { type: "usernamePassword", username: "gw-user", password: "wrong" }, async (gw) => {
      const delays = await retries(gw, 3);
      expect(delays.length).toBeGreaterThanOrEqual(3);
      expect(delays[2]!).toBeGreaterThan(delays[0]!);
      expect((gw.output().match(/platform refused the gateway: connection refused: (not authorized|bad user name or password)/g) ?? []).length).toBe(1);
      expect(p.harness.received.some((r) => r.body?.method === "getSessionLimits")).toBe(false);
    });
  }, 40000);
});
