// Secured server (only Sign / SignAndEncrypt endpoints, no anonymous users): the connector creates its
// own certificate in its data folder and connects with username/password, then with an X.509 identity.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setStderrLogging } from "../../observe/logger.ts";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { OpcuaConnector } from "./connector.ts";
import { makeTestCerts } from "./peer/certs.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";
import { OpcuaConfigSchema } from "./schema.ts";

setStderrLogging(process.env.TEST_VERBOSE === "1");

let peer: OpcuaPeer;
beforeAll(async () => {
  peer = await startOpcuaPeer({ OPCUA_SECURE: "1" });
}, 40000);
afterAll(async () => {
  await peer?.stop();
});

function config(identity: Record<string, unknown>, security = "Basic256Sha256") {
  return OpcuaConfigSchema.parse({
    server: { url: peer.url, security, identity, enableSubscriptions: true, subDataMinBatchCreationTimeMs: 20, timeoutInMillis: 3000, reconnectBackoffInitialDelay: 0.2 },
    mapping: [{ deviceNodePattern: "Root\\.Objects\\.MyObject", deviceInfo: { deviceNameExpression: "Secure Device" }, timeseries: [{ key: "humidity", type: "path", value: "${Humidity}" }] }],
  });
}

async function run(cfg: ReturnType<typeof config>, ctx: RecordingContext): Promise<void> {
  const c = new OpcuaConnector(cfg, ctx);
  try {
    await c.start();
    await ctx.waitFor((s) => s.some((d) => d.deviceName === "Secure Device" && d.telemetry?.some((t) => t.values.humidity === 40.5)), 15000, "secure data");
  } finally {
    await c.stop();
  }
}

test("SignAndEncrypt with username/password; own certificate created on first run", async () => {
  const ctx = recordingContext({ type: "opcua" });
  await run(config({ type: "username", username: "gwuser", password: "gwpass", mode: "SignAndEncrypt" }), ctx);
  expect(existsSync(join(ctx.dataDir, "opcua-pki", "own", "certs", "client_certificate.pem"))).toBe(true);
}, 30000);

test("Sign mode with Aes128_Sha256_RsaOaep", async () => {
  const ctx = recordingContext({ type: "opcua" });
  await run(config({ type: "username", username: "gwuser", password: "gwpass", mode: "Sign" }, "Aes128_Sha256_RsaOaep"), ctx);
}, 30000);

test("certificate identity (cert + key files) with SignAndEncrypt", async () => {
  // Reuse a certificate the client created itself, as a user would reuse one issued to the gateway.
  const first = recordingContext({ type: "opcua" });
  await run(config({ type: "username", username: "gwuser", password: "gwpass", mode: "SignAndEncrypt" }), first);
  const pki = join(first.dataDir, "opcua-pki", "own");
  const ctx = recordingContext({ type: "opcua" });
  await run(config({ type: "certificates", cert: join(pki, "certs", "client_certificate.pem"), privateKey: join(pki, "private", "private_key.pem") }), ctx);
}, 30000);

test("a wrong password is reported and the connector keeps retrying without sending", async () => {
  const ctx = recordingContext({ type: "opcua" });
  const errors: string[] = [];
  const log = ctx.log as unknown as { error: (m: string) => void };
  log.error = (m) => void errors.push(m);
  const c = new OpcuaConnector(config({ type: "username", username: "gwuser", password: "wrong", mode: "SignAndEncrypt" }), ctx);
  try {
    await c.start();
    const t0 = Date.now();
    while (errors.length === 0 && Date.now() - t0 < 15000) await Bun.sleep(20);
    expect(errors[0]).toContain(peer.url);
    expect(ctx.sent.length).toBe(0);
  } finally {
    await c.stop();
  }
}, 30000);

test("identity.caCert: the server's own certificate is trusted over SignAndEncrypt", async () => {
  const ctx = recordingContext({ type: "opcua" });
  const caCert = join(peer.pki, "own", "certs", "certificate.pem");
  await run(config({ type: "username", username: "gwuser", password: "gwpass", mode: "SignAndEncrypt", caCert }), ctx);
}, 30000);

test("identity.caCert naming another CA: the server is refused before the secure channel, with a clear error", async () => {
  const { wrongCa } = makeTestCerts();
  const ctx = recordingContext({ type: "opcua" });
  const errors: string[] = [];
  (ctx.log as unknown as { error: (m: string) => void }).error = (m) => void errors.push(m);
  const c = new OpcuaConnector(config({ type: "username", username: "gwuser", password: "gwpass", mode: "SignAndEncrypt", pathToCACert: wrongCa }), ctx);
  try {
    await c.start();
    const t0 = Date.now();
    while (errors.length === 0 && Date.now() - t0 < 15000) await Bun.sleep(20);
    expect(errors[0]).toContain(`server certificate of ${peer.url}`);
    expect(errors[0]).toContain(`is not issued by the CA in identity.pathToCACert (${wrongCa})`);
    expect(ctx.sent.length).toBe(0);
  } finally {
    await c.stop();
  }
}, 30000);
