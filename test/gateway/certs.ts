// Test certificates made with the openssl CLI at run time: a CA, a server certificate for
// 127.0.0.1/localhost and a client certificate, all signed by that CA (plus an unrelated CA).

import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: verification against it must fail. */
  otherCaCert: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function selfSignedCa(dir: string, name: string, days = 2): void {
  openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", String(days), "-subj", `/CN=${name}`]);
}

function signed(dir: string, name: string, cn: string, ext: string, days = 2): void {
  openssl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", String(days), "-extfile", `${name}.ext`]);
}

/** Lifetimes in days (default 2 each): the certificate expiry check looks at them. */
export function makeTestPki(days: { ca?: number; client?: number } = {}): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-pki-"));
  selfSignedCa(dir, "ca", days.ca);
  selfSignedCa(dir, "other-ca");
  signed(dir, "server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  signed(dir, "client", "tb-gw-test-client", "extendedKeyUsage=clientAuth\n", days.client);
  // Mosquitto started as root drops to its own user: it must be able to read these (test keys only).
  chmodSync(dir, 0o755);
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
  const p = (f: string) => join(dir, f);
  return { dir, caCert: p("ca.crt"), serverCert: p("server.crt"), serverKey: p("server.key"), clientCert: p("client.crt"), clientKey: p("client.key"), otherCaCert: p("other-ca.crt") };
}
