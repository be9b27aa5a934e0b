// Certificate expiry check for TLS platform connections (spec platform-api.md §1.1): every
// `security.checkCertPeriod` s, a client certificate that ends within `security.certificateDaysLeft`
// days gets a successor (new key + self-signed certificate, same CN) written beside it and announced
// as gateway attribute `newCertificate`; a CA that ends within the window is announced as
// `CACertificate`. The files in use are never touched: swapping them is the operator's decision.

import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import type { ThingsboardConfig } from "../config/main-schema.ts";
import { resolveConfigPath } from "../common/tls/index.ts";
import { errorText, type Logger } from "../observe/logger.ts";
import { makeSelfSignedCert } from "./self-signed-cert.ts";
import { T } from "./topics.ts";

type Security = NonNullable<ThingsboardConfig["security"]>;

const DEFAULT_PERIOD_S = 86400;
const DEFAULT_DAYS_LEFT = 3;
const NEW_CERT_DAYS = 365;
const DAY_MS = 86_400_000;
/** setInterval treats larger delays as 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
export const CA_SOON_TEXT = "CA certificate will outdated soon";

/** `client.crt` → `client.new.crt`: beside the original, never the same name. */
export function successorPath(path: string): string {
  const ext = extname(path);
  return join(dirname(path), `${basename(path, ext)}.new${ext || ".pem"}`);
}

function commonName(cert: X509Certificate): string | undefined {
  // `subject` is one "KEY=value" per line.
  const line = cert.subject.split("\n").find((l) => l.startsWith("CN="));
  return line?.slice(3);
}

export class CertExpiryCheck {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;
  private readonly daysLeft: number;
  private readonly periodMs: number;

  constructor(
    private readonly security: Security,
    private readonly configDir: string,
    private readonly log: Logger,
    private readonly publish: (topic: string, payload: string) => Promise<void>,
  ) {
    this.daysLeft = security.certificateDaysLeft ?? DEFAULT_DAYS_LEFT;
    this.periodMs = Math.min((security.checkCertPeriod ?? DEFAULT_PERIOD_S) * 1000, MAX_TIMER_MS);
  }

  /** First check now, then periodically; a second call (reconnect) changes nothing. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.periodMs);
    this.timer.unref?.();
    void this.check();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round; never throws (a broken file must not take the gateway down). */
  async check(): Promise<void> {
    if (this.running) return; // a slow publish must not overlap the next round
    this.running = true;
    try {
      const deadline = Date.now() + this.daysLeft * DAY_MS;
      const found: string[] = [];
      if (this.security.cert) await this.checkClient(deadline, found);
      if (this.security.caCert) await this.checkCa(deadline, found);
      this.log.info(`certificate check done (window ${this.daysLeft} days): ${found.length ? found.join("; ") : "no certificates configured"}`);
    } catch (e) {
      this.log.error(`certificate check failed: ${errorText(e)}`);
    } finally {
      this.running = false;
    }
  }

  private read(what: string, file: string): X509Certificate | undefined {
    const path = resolveConfigPath(file, this.configDir);
    try {
      return new X509Certificate(readFileSync(path));
    } catch (e) {
      this.log.warn(`certificate check: cannot read the ${what} ${path}: ${errorText(e)}; skipping it`);
      return undefined;
    }
  }

  private describe(what: string, cert: X509Certificate, endMs: number): string {
    const days = ((endMs - Date.now()) / DAY_MS).toFixed(1);
    return `${what} ${cert.subject.replace(/\n/g, ", ")} valid until ${new Date(endMs).toISOString()} (${days} days left)`;
  }

  private async checkClient(deadline: number, found: string[]): Promise<void> {
    const cert = this.read("client certificate", this.security.cert!);
    if (!cert) return;
    const end = Date.parse(cert.validTo);
    const text = this.describe("client certificate", cert, end);
    if (end > deadline) {
      found.push(`${text}: fine`);
      return;
    }
    this.log.warn(`certificate check: ${text}: expires within ${this.daysLeft} days, making a new key and certificate`);
    const cn = commonName(cert) ?? "tb-gw";
    const fresh = makeSelfSignedCert(cn, NEW_CERT_DAYS);
    const certPath = successorPath(resolveConfigPath(this.security.cert!, this.configDir));
    const keyFile = this.security.privateKey;
    const keyPath = keyFile ? successorPath(resolveConfigPath(keyFile, this.configDir)) : certPath;
    if (keyPath === certPath) writeFileSync(certPath, fresh.certPem + fresh.keyPem, { mode: 0o600 });
    else {
      writeFileSync(certPath, fresh.certPem);
      writeFileSync(keyPath, fresh.keyPem, { mode: 0o600 });
    }
    this.log.warn(`certificate check: new self-signed certificate for CN=${cn} written to ${certPath} (key ${keyPath}); publishing it as attribute newCertificate`);
    await this.announce({ newCertificate: fresh.certPem });
    found.push(`${text}: replaced by ${certPath}`);
  }

  private async checkCa(deadline: number, found: string[]): Promise<void> {
    const ca = this.read("CA certificate", this.security.caCert!);
    if (!ca) return;
    const end = Date.parse(ca.validTo);
    const text = this.describe("CA certificate", ca, end);
    if (end > deadline) {
      found.push(`${text}: fine`);
      return;
    }
    this.log.warn(`certificate check: ${text}: expires within ${this.daysLeft} days; publishing attribute CACertificate`);
    await this.announce({ CACertificate: CA_SOON_TEXT });
    found.push(`${text}: announced`);
  }

  private async announce(attrs: Record<string, string>): Promise<void> {
    try {
      await this.publish(T.meAttributes, JSON.stringify(attrs));
    } catch (e) {
      this.log.warn(`certificate check: publishing ${Object.keys(attrs).join(", ")} failed: ${errorText(e)}; next try in ${this.periodMs / 1000} s`);
    }
  }
}
