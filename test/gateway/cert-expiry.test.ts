// Certificate expiry check (spec platform-api.md §1.1) end to end: the gateway connects with
// tlsPrivateKey to a Mosquitto listener that requires a client certificate; certificates made by
// openssl expire soon (or not), and the platform harness sees what the gateway announces.

import { beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { mainConfig, startGateway, writeGatewayConfig } from "../support/gateway.ts";
import { startMosquitto } from "../support/mosquitto.ts";
import { startPlatformHarness, type PlatformHarness } from "../support/platform.ts";
import { freePort } from "../support/ports.ts";
import type { Started } from "../support/process.ts";
import { makeTestPki, type TestPki } from "./certs.ts";

let soon: TestPki; // client ends in 1 day, CA in 2: both inside the default 3-day window
let far: TestPki; // client 1 year, CA 10 years
beforeAll(() => {
  soon = makeTestPki({ client: 1, ca: 2 });
  far = makeTestPki({ client: 365, ca: 3650 });
});

const CHECK_DONE = /certificate check done/g;

/** Resolves once `n` certificate checks finished (event driven on the gateway's output). */
async function checksDone(gw: Started, n: number, timeoutMs = 15000): Promise<void> {
  const count = () => (gw.output().match(CHECK_DONE) ?? []).length;
  const until = Date.now() + timeoutMs;
  while (count() < n) {
    if (Date.now() >= until || gw.proc.exitCode !== null) throw new Error(`expected ${n} certificate checks, saw ${count()}; output:\n${gw.output()}`);
    await new Promise<void>((r) => {
      const t = setTimeout(done, until - Date.now());
      function done() {
        clearTimeout(t);
        gw.proc.stdout?.off("data", done);
        gw.proc.stderr?.off("data", done);
        r();
      }
      gw.proc.stdout?.on("data", done);
      gw.proc.stderr?.on("data", done);
    });
  }
}

const attrs = (h: PlatformHarness, key: string) => h.received.filter((r) => r.topic === "v1/devices/me/attributes" && r.body && key in r.body).map((r) => r.body[key]);

/** Gateway on a TLS listener that requires a client certificate from `pki`; always cleaned up. */
async function withTlsGateway(pki: TestPki, extra: Record<string, unknown>, body: (gw: Started, h: PlatformHarness) => Promise<void>): Promise<void> {
  const port = await freePort();
  const listener = [`listener ${port} 127.0.0.1`, `cafile ${pki.caCert}`, `certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`, "require_certificate true"].join("\n");
  const broker = await startMosquitto({ extraConfig: listener });
  let harness: PlatformHarness | undefined;
  let gw: Started | undefined;
  try {
    harness = await startPlatformHarness(broker.url);
    const security = { type: "tlsPrivateKey", caCert: pki.caCert, cert: pki.clientCert, privateKey: pki.clientKey, ...extra };
    gw = await startGateway(writeGatewayConfig(mainConfig(port, { type: "memory" }, [], { security })).configPath);
    await body(gw, harness);
    expect(gw.proc.exitCode).toBeNull();
  } finally {
    await gw?.stop();
    await harness?.close().catch(() => {});
    await broker.dispose();
  }
}

describe("certificate expiry check", () => {
  test("client certificate and CA expiring soon: new key + certificate beside the old ones, both attributes, repeated every period", async () => {
    const before = { cert: readFileSync(soon.clientCert), key: readFileSync(soon.clientKey) };
    await withTlsGateway(soon, { checkCertPeriod: 1 }, async (gw, h) => {
      const pem = await h.waitFor((x) => attrs(x, "newCertificate")[0], 15000, "newCertificate attribute");
      const cert = new X509Certificate(pem);
      expect(cert.subject).toBe("CN=tb-gw-test-client");
      expect(Date.parse(cert.validTo)).toBeGreaterThan(Date.now() + 300 * 86_400_000);
      await h.waitFor((x) => attrs(x, "CACertificate")[0], 15000, "CACertificate attribute");
      expect(attrs(h, "CACertificate")[0]).toBe("CA certificate will outdated soon");
      // The second round (1 s later) announces again: the timer runs.
      await h.waitFor((x) => attrs(x, "newCertificate").length >= 2, 15000, "a second newCertificate");

      const newCert = join(soon.dir, "client.new.crt");
      const newKey = join(soon.dir, "client.new.key");
      expect(existsSync(newCert) && existsSync(newKey)).toBe(true);
      const written = new X509Certificate(readFileSync(newCert));
      expect(written.subject).toBe("CN=tb-gw-test-client");
      expect(written.checkPrivateKey(createPrivateKey(readFileSync(newKey)))).toBe(true);
      // The files in use are untouched.
      expect(readFileSync(soon.clientCert).equals(before.cert)).toBe(true);
      expect(readFileSync(soon.clientKey).equals(before.key)).toBe(true);
      expect(gw.output()).toMatch(/client certificate CN=tb-gw-test-client valid until .*expires within 3 days/);
    });
  }, 40000);

  test("certificates far from expiry: nothing published, the check logs what it found", async () => {
    await withTlsGateway(far, { checkCertPeriod: 1 }, async (gw, h) => {
      // Two finished rounds: anything the first one published has reached the harness by then.
      await checksDone(gw, 2);
      expect(attrs(h, "newCertificate")).toEqual([]);
      expect(attrs(h, "CACertificate")).toEqual([]);
      expect(gw.output()).toMatch(/client certificate CN=tb-gw-test-client valid until .*: fine/);
      expect(gw.output()).toMatch(/CA certificate CN=ca valid until .*: fine/);
      expect(existsSync(join(far.dir, "client.new.crt"))).toBe(false);
    });
  }, 40000);

  test("certificateDaysLeft widens the window: a 1-year client certificate is renewed, the 10-year CA is not announced", async () => {
    // Its own certificates: the renewal writes files the previous test checks are absent.
    const pki = makeTestPki({ client: 365, ca: 3650 });
    await withTlsGateway(pki, { checkCertPeriod: 1, certificateDaysLeft: 400 }, async (gw, h) => {
      const pem = await h.waitFor((x) => attrs(x, "newCertificate")[0], 15000, "newCertificate attribute");
      expect(new X509Certificate(pem).subject).toBe("CN=tb-gw-test-client");
      await checksDone(gw, 2);
      expect(attrs(h, "CACertificate")).toEqual([]);
    });
  }, 40000);
});
