// A self-signed X.509 client certificate for X509_CERTIFICATE provisioning (spec platform-api.md
// §1.2). node:crypto makes keys and signatures but cannot build certificates, so the few DER
// structures of one certificate are encoded here: no dependency, and it works the same under Bun,
// Node and in the compiled binary. Key: EC P-256; signature: ecdsa-with-SHA256.

import { generateKeyPairSync, randomBytes, sign } from "node:crypto";

export interface SelfSigned {
  /** Certificate, PEM. */
  certPem: string;
  /** Private key, PKCS#8 PEM (unencrypted: the gateway must start unattended). */
  keyPem: string;
}

// --- minimal DER (ITU-T X.690): definite lengths, only the types a certificate needs ---

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));
const bitString = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const octets = (b: Buffer) => tlv(0x04, b);

/** Non-negative INTEGER from big-endian bytes (leading zeros trimmed, 0x00 added when the top bit is set). */
function uint(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let b = bytes.subarray(i);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime up to 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, "0");
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const y = d.getUTCFullYear();
  return y < 2050 ? tlv(0x17, Buffer.from(`${p(y % 100)}${rest}`, "ascii")) : tlv(0x18, Buffer.from(`${y}${rest}`, "ascii"));
}

const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const OID_COMMON_NAME = "2.5.4.3";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";

function pem(label: string, der: Buffer): string {
  const b64 = der.toString("base64").match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/**
 * A new key pair and a certificate for it, signed by itself, subject and issuer `CN=<commonName>`,
 * valid from one minute ago (clock skew) for `days`. It is an end-entity certificate (CA:FALSE).
 */
export function makeSelfSignedCert(commonName: string, days = 365, now = new Date()): SelfSigned {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const algorithm = seq(oid(OID_ECDSA_SHA256));
  const name = seq(set(seq(oid(OID_COMMON_NAME), utf8(commonName))));
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // positive, at most 16 bytes: well inside RFC 5280's 20-octet limit
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + days * 86_400_000);
  const basicConstraints = seq(oid(OID_BASIC_CONSTRAINTS), bool(true), octets(seq()));
  const tbs = seq(
    explicit(0, uint(Buffer.from([2]))), // v3
    uint(serial),
    algorithm,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    explicit(3, seq(basicConstraints)),
  );
  const signature = sign("sha256", tbs, privateKey); // DER-encoded ECDSA signature, as X.509 wants
  const cert = seq(tbs, algorithm, bitString(signature));
  return { certPem: pem("CERTIFICATE", cert), keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
}
