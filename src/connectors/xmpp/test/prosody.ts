// A Prosody XMPP server for the tests (Debian `prosody`), run by the test itself: a generated
// config in a temp folder, client ports on free loopback ports (STARTTLS and direct TLS), no
// server-to-server or HTTP, a self-signed certificate for `localhost`, and accounts registered
// with prosodyctl before it starts. Stopped (and restarted) by its PID.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../../../test/support/ports.ts";
import { startProcess, type Started } from "../../../../test/support/process.ts";

export const DOMAIN = "localhost";
/** A host served with the certificate of `localhost`: its name does not match. */
export const WRONG_NAME_DOMAIN = "wrong-name.test";
/** A host that offers only SASL PLAIN (SCRAM disabled), with the same accounts. */
export const PLAIN_ONLY_DOMAIN = "plain-only.test";
/** A host without a certificate: it does not offer STARTTLS. */
export const NO_TLS_DOMAIN = "no-tls.test";

export interface Prosody {
  /** STARTTLS (and plain) client port. */
  port: number;
  /** Direct TLS client port. */
  tlsPort: number;
  /** The server's self-signed certificate (PEM), usable as the CA to trust. */
  certPath: string;
  dir: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
  /** PID of the running server (for CPU figures in the benchmark). */
  pid(): number | undefined;
}

export interface ProsodyOptions {
  /** user → password (accounts on `localhost`). */
  accounts: Record<string, string>;
  /** Refuse unencrypted client sessions (default false: devices log in without TLS). */
  requireEncryption?: boolean;
}

/** Prosody writes a banner about the optional lua-unbound to stdout; quieter without it. */
const lua = (s: string) => JSON.stringify(s);

export async function startProsody(opts: ProsodyOptions): Promise<Prosody> {
  const dir = mkdtempSync(join(tmpdir(), "tbgw-prosody-"));
  mkdirSync(join(dir, "data"));
  const certPath = join(dir, "localhost.crt");
  const keyPath = join(dir, "localhost.key");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "2", "-subj", `/CN=${DOMAIN}`, "-addext", `subjectAltName=DNS:${DOMAIN}`], { stdio: "ignore" });
  const port = await freePort();
  const tlsPort = await freePort();
  const config = join(dir, "prosody.cfg.lua");
  writeFileSync(
    config,
    [
      `data_path = ${lua(join(dir, "data"))}`,
      `pidfile = ${lua(join(dir, "prosody.pid"))}`,
      // The test may run as root; Prosody would otherwise refuse, or switch to its own user
      // that cannot write this temp folder.
      `run_as_root = true`,
      `prosody_user = ${lua(process.env.USER ?? "root")}`,
      `log = { { levels = { min = "info" }, to = "console" } }`,
      `interfaces = { "127.0.0.1" }`,
      `c2s_ports = { ${port} }`,
      `c2s_direct_tls_ports = { ${tlsPort} }`,
      `legacy_ssl_ports = { }`,
      `s2s_ports = { }`,
      `modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix" }`,
      `modules_disabled = { "s2s"; "http"; "admin_telnet" }`,
      `authentication = "internal_plain"`,
      `c2s_require_encryption = ${opts.requireEncryption ? "true" : "false"}`,
      `allow_unencrypted_plain_auth = true`,
      `limits = { c2s = { rate = "100mb/s" } }`,
      `certificates = ${lua(dir)}`,
      `VirtualHost ${lua(DOMAIN)}`,
      `  ssl = { certificate = ${lua(certPath)}; key = ${lua(keyPath)} }`,
      `VirtualHost ${lua(WRONG_NAME_DOMAIN)}`,
      `  ssl = { certificate = ${lua(certPath)}; key = ${lua(keyPath)} }`,
      `VirtualHost ${lua(PLAIN_ONLY_DOMAIN)}`,
      `  disable_sasl_mechanisms = { "SCRAM-SHA-1"; "SCRAM-SHA-256"; "DIGEST-MD5" }`,
      `  ssl = { certificate = ${lua(certPath)}; key = ${lua(keyPath)} }`,
      `VirtualHost ${lua(NO_TLS_DOMAIN)}`,
      `  modules_disabled = { "tls" }`,
      "",
    ].join("\n"),
  );
  for (const [user, password] of Object.entries(opts.accounts)) {
    for (const host of [DOMAIN, PLAIN_ONLY_DOMAIN, NO_TLS_DOMAIN]) execFileSync("prosodyctl", ["--config", config, "register", user, host, password], { stdio: "ignore" });
  }
  let proc: Started | undefined;
  const start = async () => {
    proc = await startProcess("prosody", ["-F", "--config", config], { ready: new RegExp(`Activated service 'c2s_direct_tls' on \\[127\\.0\\.0\\.1\\]:${tlsPort}`), timeoutMs: 30_000 });
  };
  await start();
  return {
    port,
    tlsPort,
    certPath,
    dir,
    async restart() {
      await proc?.stop();
      await start();
    },
    async stop() {
      await proc?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => proc?.output() ?? "",
    pid: () => proc?.proc.pid,
  };
}
