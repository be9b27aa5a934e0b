// Server certificate trust. Upstream accepts any server certificate, and so do we by default; when
// `identity.caCert` (or `pathToCACert`) names a CA file, the server's certificate must be that
// certificate itself (a pinned self-signed one) or be issued by it, possibly through intermediates
// the server sends along, and be within its validity dates. Otherwise the connection is refused with
// an error saying which certificate was refused and how to fix the config.

import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { errorText } from "../../observe/logger.ts";

export class ServerTrust {
  /** Why the last server certificate was refused (read by the connector to report the real cause). */
  refusal: string | undefined;

  private constructor(
    readonly file: string,
    private readonly cas: X509Certificate[],
    private readonly option: string,
  ) {}

  /** Read the CA file (one or more PEM certificates, or one DER); throws naming the file and the fix. */
  static load(file: string, option = "identity.caCert"): ServerTrust {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (e) {
      throw new Error(`opcua: ${option} ${file} cannot be read (${errorText(e)}); fix the path (relative paths are from the config folder) or remove ${option}`);
    }
    const text = data.toString("latin1");
    const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    try {
      const cas = pems ? pems.map((p) => new X509Certificate(p)) : [new X509Certificate(data)];
      return new ServerTrust(file, cas, option);
    } catch (e) {
      throw new Error(`opcua: ${option} ${file} holds no readable X.509 certificate (${errorText(e)}); give the CA certificate as PEM or DER`);
    }
  }

  /** Check a server certificate (DER, possibly a chain); returns why it is refused, or undefined. */
  check(der: Buffer | Buffer[], url: string, now = new Date()): string | undefined {
    let chain: X509Certificate[];
    try {
      chain = (Array.isArray(der) ? der : splitDer(der)).map((d) => new X509Certificate(d));
    } catch (e) {
      return `server certificate of ${url} cannot be parsed (${errorText(e)})`;
    }
    const leaf = chain[0];
    if (!leaf) return `server ${url} sent no certificate, so it cannot be checked against ${this.file}; remove ${this.option} or use a security mode that the server signs (Sign, SignAndEncrypt)`;
    const who = `server certificate of ${url} (subject "${leaf.subject.replace(/\n/g, ", ")}", SHA-256 ${leaf.fingerprint256})`;
    if (now < new Date(leaf.validFrom) || now > new Date(leaf.validTo)) return `${who} is not valid now (valid ${leaf.validFrom} to ${leaf.validTo}); renew the server certificate`;
    if (!this.chainsToCa(leaf, chain.slice(1))) {
      return `${who} is not issued by the CA in ${this.option} (${this.file}); fix: set it to the CA that signed the server certificate (or to the server certificate itself), or remove it to accept any server certificate as upstream does`;
    }
    return undefined;
  }

  private chainsToCa(leaf: X509Certificate, intermediates: X509Certificate[]): boolean {
    let cur = leaf;
    const unused = [...intermediates];
    for (;;) {
      if (this.cas.some((ca) => ca.raw.equals(cur.raw) || issuedBy(cur, ca))) return true;
      const i = unused.findIndex((x) => issuedBy(cur, x));
      if (i < 0) return false;
      cur = unused.splice(i, 1)[0]!;
    }
  }
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** OPC-UA sends a chain as concatenated DER certificates: split on each SEQUENCE's length. */
export function splitDer(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 2 <= buf.length && buf[at] === 0x30) {
    let len = buf[at + 1]!;
    let head = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
      head += n;
    }
    out.push(buf.subarray(at, at + head + len));
    at += head + len;
  }
  return out;
}
