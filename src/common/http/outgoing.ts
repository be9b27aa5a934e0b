// An outgoing request's fixed settings (auth, TLS files, timeout, redirects) read once from a
// config rule; certificate files are read on first use, so a rule whose files are missing fails
// when it is used, with the path in the message, and never stops the connector from starting.

import { loadTls } from "../tls/index.ts";
import type { ClientSecurity } from "./schema.ts";
import { httpCall, type HttpResult, type HttpTls } from "./client.ts";
import type { Logger } from "../../observe/logger.ts";

export interface OutgoingSettings {
  security: ClientSecurity;
  verify: boolean;
  /** CA file (PEM) that signs the server certificates, when not the system's. */
  caFile?: string;
  timeoutS: number;
  allowRedirects: boolean;
  headers: Record<string, string>;
}

export class Outgoing {
  private tls: HttpTls | undefined;

  constructor(
    readonly settings: OutgoingSettings,
    private readonly configDir: string,
  ) {}

  /** Say once, at start, that a rule talks TLS without checking who answers. */
  warnIfUnverified(log: Logger, where: string, urlTemplate: string): void {
    if (!this.settings.verify && !/^http:\/\//i.test(urlTemplate))
      log.warn(`${where}: SSLVerify is false: HTTPS answers are encrypted but the server certificate is not checked`);
  }

  private tlsFor(): HttpTls {
    if (!this.tls) {
      const s = this.settings.security;
      const files = loadTls({ ca: this.settings.caFile, cert: s.type === "cert" ? s.cert : undefined, key: s.type === "cert" ? (s.key ?? s.cert) : undefined }, this.configDir);
      this.tls = { verify: this.settings.verify, ca: files.ca, cert: files.cert, key: files.key };
    }
    return this.tls;
  }

  send(url: string, method: string, body: string | Uint8Array | FormData | URLSearchParams | undefined, headers = this.settings.headers): Promise<HttpResult> {
    const s = this.settings.security;
    return httpCall({
      url,
      method,
      headers,
      body,
      basic: s.type === "basic" && s.username !== undefined ? { username: s.username, password: s.password ?? "" } : undefined,
      timeoutMs: this.settings.timeoutS * 1000,
      followRedirects: this.settings.allowRedirects,
      tls: url.toLowerCase().startsWith("https:") ? this.tlsFor() : undefined,
    });
  }
}
