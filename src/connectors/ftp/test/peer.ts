// The FTP server for tests: pyftpdlib (Debian python3-pyftpdlib) serving a temporary folder on a
// free loopback port (ftp_server.py). TLS: a self-signed certificate for 127.0.0.1 made with
// openssl at test time. Stopped by its PID.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess, type Started } from "../../../../test/support/process.ts";

const SERVER = join(import.meta.dir, "ftp_server.py");

export interface FtpServer {
  port: number;
  /** The folder the server serves (the FTP root of the user). */
  root: string;
  user: string;
  password: string;
  /** With `trace`: the commands the server received, in order ("MLSD fol", "RETR fol/a.txt"). */
  commands(): string[];
  stop(): Promise<void>;
}

export interface Certificate {
  /** Certificate + key (what the server loads). */
  pem: string;
  /** The certificate alone (what a client trusts as its CA). */
  ca: string;
}

/** A self-signed certificate for 127.0.0.1 (IP subjectAltName, so host checks pass). */
export function makeCertificate(dir = mkdtempSync(join(tmpdir(), "tbgw-ftp-cert-"))): Certificate {
  const key = join(dir, "key.pem");
  const ca = join(dir, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", ca, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "pipe" });
  const pem = join(dir, "server.pem");
  writeFileSync(pem, readFileSync(ca, "utf8") + readFileSync(key, "utf8"));
  return { pem, ca };
}

export async function startFtpServer(opts: { root?: string; port?: number; tls?: Certificate; implicit?: boolean; trace?: boolean; user?: string; password?: string } = {}): Promise<FtpServer> {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), "tbgw-ftp-root-"));
  const user = opts.user ?? "admin";
  const password = opts.password ?? "admin";
  const args = ["-u", SERVER, "--dir", root, "--user", user, "--password", password];
  if (opts.tls) args.push("--cert", opts.tls.pem);
  if (opts.implicit) args.push("--implicit");
  if (opts.trace) args.push("--trace");
  if (opts.port) args.push("--port", String(opts.port));
  const proc: Started = await startProcess("/usr/bin/python3", args, { ready: /READY \d+/, timeoutMs: 20_000 });
  const port = Number(/READY (\d+)/.exec(proc.output())![1]);
  const commands = () => [...proc.output().matchAll(/^CMD (.*)$/gm)].map((m) => m[1]!.trim());
  return { port, root, user, password, commands, stop: () => proc.stop() };
}
