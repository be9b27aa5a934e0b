// Device provisioning (spec platform-api.md §1.2, main-config.md §2.2): when the main config has no
// `thingsboard.security`, the gateway's credentials come from `<configdir>/.credentials` (saved by an
// earlier provisioning, ours or upstream's) or are obtained from the platform over a short MQTT
// session with username `provision`. Failures are logged and retried with backoff: the gateway
// keeps running and buffering meanwhile. X509_CERTIFICATE: the gateway makes its own key and
// self-signed certificate, sends the certificate as `hash`, and after SUCCESS keeps them as
// cert.pem / key.pem in the config folder (upstream's names) for the TLS connection.

import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectOnce } from "../common/mqtt/connection.ts";
import type { ThingsboardConfig } from "../config/main-schema.ts";
import { errorText, type Logger } from "../observe/logger.ts";
import { makeSelfSignedCert, type SelfSigned } from "./self-signed-cert.ts";
import { T } from "./topics.ts";

export type Security = NonNullable<ThingsboardConfig["security"]>;
type Provisioning = NonNullable<ThingsboardConfig["provisioning"]>;

export const CREDENTIALS_FILE = ".credentials";
/** Where X509_CERTIFICATE provisioning keeps the gateway's certificate and key (names as upstream). */
export const X509_CERT_FILE = "cert.pem";
export const X509_KEY_FILE = "key.pem";
const RESPONSE_TIMEOUT_MS = 60_000;
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 300_000;

/** A refusal or bad answer that the next attempt may not cure; still retried (the platform may change). */
export class ProvisioningError extends Error {}

/** Lowercase letters, as upstream generates tokens and names. */
function randomLetters(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (b) => String.fromCharCode(97 + (b % 26))).join("");
}

export interface ProvisionRequest {
  /** The body upstream's ProvisionClient sends (field names are the platform's). */
  body: Record<string, unknown>;
  /** X509_CERTIFICATE only: the generated pair, written to the config folder after SUCCESS. */
  x509?: SelfSigned;
  /** X509_CERTIFICATE only: provisioning.caCert, saved in .credentials for the TLS connection. */
  caCert?: string;
}

/** Build one request; X509_CERTIFICATE makes a new key and certificate (CN = the device name). */
export function provisionRequest(p: Provisioning): ProvisionRequest {
  const deviceName = p.deviceName ?? `Gateway ${randomLetters(5)}`;
  const req: Record<string, unknown> = {
    provisionDeviceKey: p.provisionDeviceKey,
    provisionDeviceSecret: p.provisionDeviceSecret,
    deviceName,
    gateway: true,
    credentialsType: p.type,
  };
  if (p.type === "ACCESS_TOKEN") req.token = p.access_token ?? randomLetters(15);
  else if (p.type === "MQTT_BASIC") {
    req.username = p.username ?? randomLetters(15);
    req.password = p.password ?? randomLetters(15);
    req.clientId = p.client_id ?? randomLetters(15);
  } else {
    const x509 = makeSelfSignedCert(deviceName);
    req.hash = x509.certPem; // the platform stores this certificate as the device's X.509 credentials
    return { body: req, x509, caCert: p.caCert };
  }
  return { body: req };
}

/** Security settings from a provisioning response (as saved in .credentials). */
export function securityFromResponse(resp: any, where: string): Security {
  const type = resp?.credentialsType;
  const value = resp?.credentialsValue;
  if (type === "ACCESS_TOKEN" && typeof value === "string" && value) return { type: "accessToken", accessToken: value };
  if (type === "MQTT_BASIC" && value && typeof value === "object") {
    return { type: "usernamePassword", username: value.userName ?? value.username, password: value.password, clientId: value.clientId };
  }
  if (type === "X509_CERTIFICATE") {
    // As upstream: the certificate and key files are fixed names in the config folder; caCert is the
    // provisioning.caCert saved along (without it the platform's certificate is not verified).
    const caCert = typeof resp.caCert === "string" && resp.caCert ? resp.caCert : undefined;
    return { type: "x509Certificate", tls: true, caCert, cert: X509_CERT_FILE, privateKey: X509_KEY_FILE };
  }
  throw new ProvisioningError(`${where}: no usable credentials (credentialsType ${JSON.stringify(type)})`);
}

/** Saved credentials, if `<configDir>/.credentials` exists; throws with the file name when unusable. */
export function savedCredentials(configDir: string): Security | undefined {
  const file = join(configDir, CREDENTIALS_FILE);
  if (!existsSync(file)) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ProvisioningError(`${file} is not valid JSON (${errorText(e)}); delete it to provision again`);
  }
  const security = securityFromResponse(body, file);
  if (security.type === "x509Certificate") {
    for (const f of [X509_CERT_FILE, X509_KEY_FILE]) {
      if (!existsSync(join(configDir, f))) throw new ProvisioningError(`${file} holds X.509 credentials but ${join(configDir, f)} is missing; delete ${CREDENTIALS_FILE} to provision again`);
    }
  }
  return security;
}

/** One provisioning exchange: connect as `provision`, request, wait for the answer (≤ 60 s). */
export async function provisionOnce(tb: ThingsboardConfig, request: ProvisionRequest, timeoutMs = RESPONSE_TIMEOUT_MS): Promise<Record<string, unknown>> {
  const tls = tb.port === 8883;
  const client = await connectOnce({
    host: tb.host,
    port: tb.port,
    username: "provision",
    clientId: `tb-gw-provision-${randomLetters(8)}`,
    clean: true,
    protocolVersion: 4,
    // upstream provisions over TLS without verifying the server (it has no CA yet)
    tls: tls ? { rejectUnauthorized: false } : undefined,
  });
  try {
    const answer = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ProvisioningError(`no answer on ${T.provisionResponse} within ${timeoutMs / 1000} s`)), timeoutMs);
      client.on("message", (m) => {
        if (m.topic !== T.provisionResponse) return;
        clearTimeout(timer);
        resolve(m.payload);
      });
      client.on("close", () => {
        clearTimeout(timer);
        reject(new ProvisioningError("the platform closed the provisioning connection"));
      });
    });
    await client.subscribe([{ topic: T.provisionResponse, qos: 1 }]);
    await client.publishAsync(T.provisionRequest, JSON.stringify(request.body), 1);
    const raw = (await answer).toString("utf8");
    let resp: any;
    try {
      resp = JSON.parse(raw);
    } catch {
      throw new ProvisioningError(`the platform's provisioning answer is not JSON: ${raw.slice(0, 200)}`);
    }
    if (resp?.status !== "SUCCESS") {
      throw new ProvisioningError(`the platform refused provisioning (status ${JSON.stringify(resp?.status)}${resp?.errorMsg ? `: ${resp.errorMsg}` : ""}); check provisionDeviceKey/provisionDeviceSecret in thingsboard.provisioning and the device profile's provisioning settings`);
    }
    return resp;
  } finally {
    await client.end(true).catch(() => {});
  }
}

/** Replace `file` atomically; `mode` also when it existed before (writeFileSync keeps an old mode). */
function writeAtomically(file: string, text: string, mode: number): void {
  writeFileSync(`${file}.tmp`, text, { mode });
  chmodSync(`${file}.tmp`, mode);
  renameSync(`${file}.tmp`, file);
}

/**
 * Write the response where later starts find it (owner-only, it holds a secret). For X.509 the
 * key and certificate go first: .credentials appears only once they are complete.
 */
export function saveCredentials(configDir: string, resp: Record<string, unknown>, request?: ProvisionRequest): Record<string, unknown> {
  let saved = resp;
  if (resp.credentialsType === "X509_CERTIFICATE") {
    if (!request?.x509) throw new ProvisioningError("the platform answered with X509_CERTIFICATE credentials to a request that sent no certificate; check thingsboard.provisioning.type and the device profile");
    writeAtomically(join(configDir, X509_KEY_FILE), request.x509.keyPem, 0o600);
    writeAtomically(join(configDir, X509_CERT_FILE), request.x509.certPem, 0o644);
    saved = request.caCert ? { ...resp, caCert: request.caCert } : resp;
  }
  writeAtomically(join(configDir, CREDENTIALS_FILE), JSON.stringify(saved), 0o600);
  return saved;
}

/**
 * Credentials for the platform connection: the saved ones, else provision until it works (backoff
 * 5 s doubling to 5 min). Rejects only when `signal` aborts or when nothing can give credentials.
 */
export async function obtainCredentials(tb: ThingsboardConfig, configDir: string, log: Logger, signal: AbortSignal): Promise<Security> {
  try {
    const saved = savedCredentials(configDir);
    if (saved) {
      log.info(`using provisioned credentials from ${join(configDir, CREDENTIALS_FILE)}`);
      return saved;
    }
  } catch (e) {
    if (!tb.provisioning) throw e;
    log.error(`${errorText(e)}; provisioning again`);
  }
  if (!tb.provisioning) throw new ProvisioningError(`thingsboard.security is missing and there is no ${CREDENTIALS_FILE} in ${configDir}: add thingsboard.security or thingsboard.provisioning`);
  let delay = FIRST_RETRY_MS;
  for (;;) {
    if (signal.aborted) throw new ProvisioningError("stopped before provisioning finished");
    try {
      log.info(`provisioning the gateway device on ${tb.host}:${tb.port} (${tb.provisioning.type})`);
      const request = provisionRequest(tb.provisioning);
      const resp = await provisionOnce(tb, request);
      securityFromResponse(resp, "provisioning answer"); // usable before anything is written
      const security = securityFromResponse(saveCredentials(configDir, resp, request), "provisioning answer");
      const files = security.type === "x509Certificate" ? ` (certificate ${join(configDir, X509_CERT_FILE)}, key ${join(configDir, X509_KEY_FILE)})` : "";
      log.info(`provisioned: credentials saved to ${join(configDir, CREDENTIALS_FILE)}${files} and reused on later starts`);
      return security;
    } catch (e) {
      log.error(`provisioning failed: ${errorText(e)}; retrying in ${delay / 1000} s (the gateway keeps buffering data)`);
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, delay);
      signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });
    delay = Math.min(delay * 2, MAX_RETRY_MS);
  }
}
