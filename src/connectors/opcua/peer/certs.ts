// Test certificates made with the openssl CLI (a Debian peer, see test/install-peers.sh): a CA, an
// intermediate and a leaf issued through it, and an unrelated self-signed "wrong CA".

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function openssl(args: string[], cwd: string): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr.toString()}`);
}

export interface TestCerts {
  dir: string;
  /** PEM file paths. */
  ca: string;
  intermediate: string;
  leaf: string;
  wrongCa: string;
  /** DER of the leaf, and leaf+intermediate as a server would send its chain. */
  leafDer: Buffer;
  chainDer: Buffer;
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-opcua-certs-"));
  writeFileSync(join(dir, "ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  const selfSigned = (name: string, cn: string) =>
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-subj", `/CN=${cn}`, "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  const issued = (name: string, cn: string, issuer: string, ext?: string) => {
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", `${issuer}.pem`, "-CAkey", `${issuer}.key`, "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", ...(ext ? ["-extfile", ext] : [])], dir);
  };
  selfSigned("ca", "tbgw test CA");
  selfSigned("wrong", "tbgw wrong CA");
  issued("intermediate", "tbgw test intermediate", "ca", "ca.ext");
  issued("leaf", "tbgw test server", "intermediate");
  openssl(["x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der"], dir);
  openssl(["x509", "-in", "intermediate.pem", "-outform", "DER", "-out", "intermediate.der"], dir);
  const leafDer = readFileSync(join(dir, "leaf.der"));
  return {
    dir,
    ca: join(dir, "ca.pem"),
    intermediate: join(dir, "intermediate.pem"),
    leaf: join(dir, "leaf.pem"),
    wrongCa: join(dir, "wrong.pem"),
    leafDer,
    chainDer: Buffer.concat([leafDer, readFileSync(join(dir, "intermediate.der"))]),
  };
}
