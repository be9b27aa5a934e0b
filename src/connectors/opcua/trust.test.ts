// Server certificate trust (identity.caCert): the checks themselves on openssl-made certificates,
// and mode None against the plain test peer (node-opcua does not look at the certificate there).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setStderrLogging } from "../../observe/logger.ts";
import { recordingContext } from "../../../test/support/context.ts";
import { OpcuaConnector } from "./connector.ts";
import { makeTestCerts, type TestCerts } from "./peer/certs.ts";
import { startOpcuaPeer, type OpcuaPeer } from "./peer/start.ts";
import { OpcuaConfigSchema } from "./schema.ts";
import { ServerTrust, splitDer } from "./trust.ts";

setStderrLogging(process.env.TEST_VERBOSE === "1");
const URL = "opc.tcp://127.0.0.1:4840";

let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts();
}, 20000);

describe("ServerTrust", () => {
  test("a leaf sent with its intermediate chains to the CA; the leaf alone does not", () => {
    const trust = ServerTrust.load(certs.ca);
    expect(splitDer(certs.chainDer)).toHaveLength(2);
    expect(trust.check(certs.chainDer, URL)).toBeUndefined();
    expect(trust.check(certs.leafDer, URL)).toContain("is not issued by the CA in identity.caCert");
  });

  test("the intermediate as CA, the leaf itself as CA (pinned), a bundle file", () => {
    expect(ServerTrust.load(certs.intermediate).check(certs.leafDer, URL)).toBeUndefined();
    expect(ServerTrust.load(certs.leaf).check(certs.leafDer, URL)).toBeUndefined();
    const bundle = join(certs.dir, "bundle.pem");
    writeFileSync(bundle, readFileSync(certs.wrongCa, "utf8") + readFileSync(certs.intermediate, "utf8"));
    expect(ServerTrust.load(bundle).check(certs.leafDer, URL)).toBeUndefined();
  });

  test("a wrong CA is refused with the subject, the file and the fix", () => {
    const why = ServerTrust.load(certs.wrongCa).check(certs.chainDer, URL)!;
    expect(why).toContain(`server certificate of ${URL}`);
    expect(why).toContain("CN=tbgw test server");
    expect(why).toContain(certs.wrongCa);
    expect(why).toContain("or remove it to accept any server certificate");
  });

  test("outside its validity dates, no certificate at all, unreadable CA files", () => {
    const trust = ServerTrust.load(certs.ca);
    expect(trust.check(certs.chainDer, URL, new Date(Date.now() + 10 * 86400_000))).toContain("is not valid now");
    expect(trust.check(Buffer.alloc(0), URL)).toContain("sent no certificate");
    expect(() => ServerTrust.load(join(certs.dir, "missing.pem"))).toThrow(/identity.caCert .*missing.pem cannot be read/);
    expect(() => ServerTrust.load(join(certs.dir, "ca.ext"), "identity.pathToCACert")).toThrow(/identity.pathToCACert .*no readable X.509 certificate/);
  });
});

describe("mode None with caCert, against the plain peer", () => {
  let peer: OpcuaPeer;
  beforeAll(async () => {
    peer = await startOpcuaPeer();
  }, 40000);
  afterAll(async () => {
    await peer?.stop();
  });

  const config = (caCert: string) =>
    OpcuaConfigSchema.parse({
      server: { url: peer.url, identity: { type: "anonymous", caCert }, enableSubscriptions: false, pollPeriodInMillis: 200, reconnectBackoffInitialDelay: 0.2 },
      mapping: [{ deviceNodePattern: "Root\\.Objects\\.MyObject", deviceInfo: { deviceNameExpression: "None Device" }, timeseries: [{ key: "humidity", type: "path", value: "${Humidity}" }] }],
    });

  test("a wrong CA refuses the server before any session; no data, a clear error", async () => {
    const ctx = recordingContext({ type: "opcua" });
    const errors: string[] = [];
    (ctx.log as unknown as { error: (m: string) => void }).error = (m) => void errors.push(m);
    const c = new OpcuaConnector(config(certs.wrongCa), ctx);
    try {
      await c.start();
      const t0 = Date.now();
      while (errors.length === 0 && Date.now() - t0 < 10000) await Bun.sleep(20);
      expect(errors[0]).toContain("is not issued by the CA in identity.caCert");
      expect(errors[0]).toContain(certs.wrongCa);
      expect(ctx.sent).toHaveLength(0);
      expect(ctx.added).toHaveLength(0);
    } finally {
      await c.stop();
    }
  }, 20000);

  test("the server's own certificate as CA is accepted", async () => {
    const pem = join(peer.pki, "own", "certs", "certificate.pem");
    const ctx = recordingContext({ type: "opcua" });
    const c = new OpcuaConnector(config(pem), ctx);
    try {
      await c.start();
      await ctx.waitFor((s) => s.some((d) => d.telemetry?.some((t) => t.values.humidity === 40.5)), 10000, "data");
    } finally {
      await c.stop();
    }
  }, 20000);
});
