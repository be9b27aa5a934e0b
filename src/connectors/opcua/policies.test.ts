// Every security policy the client supports, in SignAndEncrypt, against one secured peer that offers
// them all (the deprecated Basic128Rsa15 and Basic256 enabled explicitly, see peer/server.ts).
// Basic128Rsa15 needs RSA PKCS#1 v1.5 private-key decryption, which Bun refuses (CVE-2023-46809):
// there the connector must refuse the policy with a clear error instead of failing obscurely.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { setStderrLogging } from "../../observe/logger.ts";
import { recordingContext, type RecordingContext } from "../../../test/support/context.ts";
import { rsaPkcs1DecryptWorks } from "./client.ts";
import { OpcuaConnector } from "./connector.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";
import { OpcuaConfigSchema } from "./schema.ts";

setStderrLogging(process.env.TEST_VERBOSE === "1");

const POLICIES = ["Basic128Rsa15", "Basic256", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"];

let peer: OpcuaPeer;
beforeAll(async () => {
  peer = await startOpcuaPeer({ OPCUA_SECURE: "1", OPCUA_POLICIES: POLICIES.join(",") });
}, 40000);
afterAll(async () => {
  await peer?.stop();
});

function config(security: string) {
  return OpcuaConfigSchema.parse({
    server: {
      url: peer.url,
      security,
      identity: { type: "username", username: "gwuser", password: "gwpass", mode: "SignAndEncrypt" },
      subDataMinBatchCreationTimeMs: 20,
      timeoutInMillis: 3000,
      reconnectBackoffInitialDelay: 0.2,
    },
    mapping: [{ deviceNodePattern: "Root\\.Objects\\.MyObject", deviceInfo: { deviceNameExpression: `Dev ${security}` }, timeseries: [{ key: "humidity", type: "path", value: "${Humidity}" }] }],
  });
}

/** Runs a connector for `policy`, capturing its info and error log lines. */
async function withConnector(policy: string, body: (ctx: RecordingContext, infos: string[], errors: string[]) => Promise<void>): Promise<void> {
  const ctx = recordingContext({ type: "opcua" });
  const infos: string[] = [];
  const errors: string[] = [];
  const log = ctx.log as unknown as { info: (m: string) => void; error: (m: string) => void };
  log.info = (m) => void infos.push(m);
  log.error = (m) => void errors.push(m);
  const c = new OpcuaConnector(config(policy), ctx);
  try {
    await c.start();
    await body(ctx, infos, errors);
  } finally {
    await c.stop();
  }
}

async function expectData(policy: string): Promise<void> {
  await withConnector(policy, async (ctx, infos) => {
    await ctx.waitFor((s) => s.some((d) => d.deviceName === `Dev ${policy}` && d.telemetry?.some((t) => t.values.humidity === 40.5)), 8000, `data over ${policy}`);
    // The log line names the policy actually negotiated (mode 3 = SignAndEncrypt).
    expect(infos.some((m) => m.includes(`(${policy}, mode 3)`))).toBe(true);
  });
}

for (const policy of POLICIES.filter((p) => p !== "Basic128Rsa15")) {
  test(`SignAndEncrypt with ${policy}: connects and receives data`, () => expectData(policy), 15000);
}

test("SignAndEncrypt with Basic128Rsa15: works where the runtime allows PKCS#1 v1.5 decryption, else a clear error", async () => {
  if (rsaPkcs1DecryptWorks()) return expectData("Basic128Rsa15");
  await withConnector("Basic128Rsa15", async (ctx, _infos, errors) => {
    const t0 = Date.now();
    while (errors.length === 0 && Date.now() - t0 < 5000) await Bun.sleep(20);
    expect(errors[0]).toContain(`OPC-UA server ${peer.url}`);
    expect(errors[0]).toContain(`security policy "Basic128Rsa15" cannot be used with this runtime`);
    expect(errors[0]).toContain("CVE-2023-46809");
    expect(errors[0]).toContain(`Set server.security to "Basic256Sha256"`);
    expect(ctx.sent.length).toBe(0);
  });
}, 15000);
