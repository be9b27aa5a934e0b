// One TLS options block for every client (platform MQTT, device MQTT, HTTP). Paths resolve
// against the config folder first, then as given, like upstream.

import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { errorText } from "../../observe/logger.ts";

export interface TlsFiles {
  /** CA certificate file (PEM). */
  ca?: string;
  /** Client certificate file (PEM). */
  cert?: string;
  /** Client private key file (PEM). */
  key?: string;
  /** Skip server hostname/certificate verification. */
  insecure?: boolean;
}

export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Verify the server's certificate chain and host name. */
  rejectUnauthorized: boolean;
}

export class TlsFileError extends Error {}

export function resolveConfigPath(p: string, baseDir: string): string {
  if (isAbsolute(p)) return p;
  const rel = join(baseDir, p);
  return existsSync(rel) ? rel : p;
}

function read(what: string, p: string | undefined, baseDir: string): Buffer | undefined {
  if (!p) return undefined;
  const full = resolveConfigPath(p, baseDir);
  try {
    return readFileSync(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TlsFileError(`cannot read ${what} file ${full} (${code ?? errorText(e)}); check the path (relative paths start at ${baseDir})`);
  }
}

/**
 * Build TLS options (the shape Bun.connect and node:tls both take). Verification follows upstream: the server is verified when a CA is given,
 * unless `insecure`; without a CA the connection is encrypted but unverified.
 */
export function loadTls(files: TlsFiles, baseDir: string): TlsOptions {
  const ca = read("CA certificate", files.ca, baseDir);
  const opts: TlsOptions = {
    ca,
    cert: read("client certificate", files.cert, baseDir),
    key: read("private key", files.key, baseDir),
    rejectUnauthorized: !!ca && !files.insecure,
  };
  return opts;
}
