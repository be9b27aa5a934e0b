// Building the node-opcua client from the `server` section: security mode/policy, the client's own
// certificate (from the config, or created in pure JS under the gateway's data folder on first run),
// and the user identity (anonymous, username/password, X.509 certificate).

import { constants as cryptoConstants, generateKeyPairSync, privateDecrypt, publicEncrypt } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  setDebugLogger,
  setErrorLogger,
  setWarningLogger,
  UserTokenType,
  type ClientSession,
  type UserIdentityInfo,
} from "node-opcua-client";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";
import { resolveConfigPath } from "../../common/tls/index.ts";
import { Logger } from "../../observe/logger.ts";
import type { OpcuaServer } from "./schema.ts";
import { ServerTrust } from "./trust.ts";

// The PKI locks its folder through @ster5/global-mutex, which prefers the optional proper-lockfile
// package: absent here, and stubbed (throwing) in the compiled binary. The built-in provider works
// in both, so pick it explicitly. `require` (not import): the package ships separate CJS and ESM
// builds, and node-opcua-pki uses the CJS one, whose module state is what must be set.
(require("@ster5/global-mutex") as typeof import("@ster5/global-mutex")).setLockProvider("native");

// node-opcua prints its own diagnostics with console.log (stdout), which would corrupt
// `tb-gw scan --json` output and bypass the gateway's log: route them into our logger.
const libLog = new Logger("node-opcua");
const text = (args: unknown[]) => args.map((a) => (typeof a === "string" ? a : String(a))).join(" ").replace(/\s+/g, " ").trim();
setWarningLogger((...a: unknown[]) => libLog.debug(text(a)));
setErrorLogger((...a: unknown[]) => libLog.warn(text(a)));
setDebugLogger((...a: unknown[]) => libLog.trace(text(a)));

export interface ClientPlan {
  securityMode: MessageSecurityMode;
  securityPolicy: SecurityPolicy;
  certificateFile?: string;
  privateKeyFile?: string;
  identity: UserIdentityInfo;
  /** Set when identity.caCert names a CA: the server certificate must chain to it. */
  trust?: ServerTrust;
}

function identityPaths(server: OpcuaServer, configDir: string) {
  const id = server.identity;
  const cert = id.cert ?? id.pathToClientCert;
  const key = id.privateKey ?? id.pathToPrivateKey;
  const ca = id.caCert ?? id.pathToCACert;
  return {
    cert: cert ? resolveConfigPath(cert, configDir) : undefined,
    key: key ? resolveConfigPath(key, configDir) : undefined,
    ca: ca ? resolveConfigPath(ca, configDir) : undefined,
  };
}

/** Work out mode, policy, certificate files and identity; throws with a fix hint on bad config. */
export function planClient(server: OpcuaServer, configDir: string): ClientPlan {
  const id = server.identity;
  const usesCerts = id.type === "certificates" || id.type === "cert.PEM";
  const { cert, key, ca } = identityPaths(server, configDir);
  if (usesCerts && (!cert || !key)) {
    throw new Error(`opcua: identity.type "${id.type}" needs identity.cert (or pathToClientCert) and identity.privateKey (or pathToPrivateKey)`);
  }
  // Like upstream, the security policy applies with certificate identity (mode defaults to
  // SignAndEncrypt); an explicit identity.mode turns it on for other identities too.
  const modeName = id.mode ?? (usesCerts ? "SignAndEncrypt" : "None");
  const securityMode = MessageSecurityMode[modeName];
  const policyName = securityMode === MessageSecurityMode.None ? "None" : server.security && server.security !== "None" ? server.security : "Basic256Sha256";
  const securityPolicy = (SecurityPolicy as Record<string, SecurityPolicy>)[policyName]!;
  if (securityPolicy === SecurityPolicy.Basic128Rsa15 && !rsaPkcs1DecryptWorks()) {
    throw new Error(
      `opcua: security policy "Basic128Rsa15" cannot be used with this runtime: its OpenSecureChannel messages are ` +
        `encrypted with RSA PKCS#1 v1.5, and the runtime refuses PKCS#1 v1.5 private-key decryption ` +
        `(CVE-2023-46809). Set server.security to "Basic256Sha256" (or Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss, Basic256) ` +
        `and enable that policy on the server`,
    );
  }
  let identity: UserIdentityInfo = { type: UserTokenType.Anonymous };
  if (id.username) {
    identity = { type: UserTokenType.UserName, userName: id.username, password: id.password ?? "" };
  } else if (usesCerts) {
    identity = {
      type: UserTokenType.Certificate,
      certificateData: pemToDer(readFileSync(cert!, "utf8")),
      privateKey: readFileSync(key!, "utf8"),
    } as UserIdentityInfo;
  }
  const trust = ca ? ServerTrust.load(ca, id.caCert ? "identity.caCert" : "identity.pathToCACert") : undefined;
  return { securityMode, securityPolicy, certificateFile: cert, privateKeyFile: key, identity, trust };
}

let pkcs1Probe: boolean | undefined;
/**
 * Whether this runtime can still decrypt RSA PKCS#1 v1.5 with a private key. Node ≥ 20.11 and Bun
 * refuse it (the Marvin attack, CVE-2023-46809); Basic128Rsa15 needs it to read the server's
 * OpenSecureChannel response. Probed once, so a runtime that allows it again is used.
 */
export function rsaPkcs1DecryptWorks(): boolean {
  if (pkcs1Probe !== undefined) return pkcs1Probe;
  try {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const padding = cryptoConstants.RSA_PKCS1_PADDING;
    const sealed = publicEncrypt({ key: publicKey, padding }, Buffer.from("probe"));
    pkcs1Probe = privateDecrypt({ key: privateKey, padding }, sealed).toString() === "probe";
  } catch {
    pkcs1Probe = false;
  }
  return pkcs1Probe;
}

function pemToDer(pem: string): Buffer {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Buffer.from(b64, "base64");
}

export interface ClientOptions {
  server: OpcuaServer;
  configDir: string;
  dataDir: string;
  applicationName: string;
}

/**
 * timeoutInMillis bounds each request's answer, as upstream's (asyncua's request timeout), and sets
 * how soon a server that stopped answering is noticed. node-opcua's transportTimeout is another
 * thing: how long the connection may stay silent. It used to be timeoutInMillis, which dropped every
 * polled connection whose poll period was longer (upstream's sample: 5000 ms for both) and
 * reconnected at each poll. Now a keep-alive read goes out after timeoutInMillis of quiet, and the
 * connection is given up after two missed keep-alives or one unanswered request.
 */
function liveness(timeoutInMillis: number) {
  const keepAliveInterval = Math.max(1000, timeoutInMillis);
  return { defaultTransactionTimeout: timeoutInMillis, keepSessionAlive: true as const, keepAliveInterval, transportTimeout: 2 * keepAliveInterval + timeoutInMillis };
}

/** A client with no automatic reconnection: the connector's own supervisor owns retries. */
export async function createClient(o: ClientOptions): Promise<{ client: OPCUAClient; plan: ClientPlan }> {
  const plan = planClient(o.server, o.configDir);
  const pki = join(o.dataDir, "opcua-pki");
  mkdirSync(pki, { recursive: true });
  const certificateManager = new OPCUACertificateManager({ rootFolder: pki, automaticallyAcceptUnknownCertificate: true });
  await certificateManager.initialize();
  if (plan.trust) {
    // node-opcua asks the certificate manager about the server certificate before it opens a
    // signed/encrypted channel; with a CA configured, our check answers instead of accept-all.
    const trust = plan.trust;
    const url = o.server.url;
    (certificateManager as unknown as { checkCertificate: (c: Buffer | Buffer[]) => Promise<unknown> }).checkCertificate = async (c) => {
      trust.refusal = trust.check(c, url);
      return trust.refusal ? StatusCodes.BadCertificateUntrusted : StatusCodes.Good;
    };
  }
  const client = OPCUAClient.create({
    applicationName: o.applicationName,
    applicationUri: o.server.uri,
    endpointMustExist: false,
    securityMode: plan.securityMode,
    securityPolicy: plan.securityPolicy,
    certificateFile: plan.certificateFile,
    privateKeyFile: plan.privateKeyFile,
    clientCertificateManager: certificateManager,
    requestedSessionTimeout: o.server.sessionTimeoutInMillis,
    ...liveness(o.server.timeoutInMillis),
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 1000 },
  });
  return { client, plan };
}

/**
 * With mode None node-opcua never looks at the server certificate, so with a CA configured it is
 * fetched from the endpoint list and checked here, before any session. Throws the refusal.
 */
export async function verifyServerTrust(client: OPCUAClient, plan: ClientPlan, url: string): Promise<void> {
  if (!plan.trust) return;
  if (plan.securityMode === MessageSecurityMode.None) {
    const endpoints = await client.getEndpoints();
    const cert = endpoints.find((e) => e.serverCertificate && e.serverCertificate.length > 0)?.serverCertificate;
    plan.trust.refusal = plan.trust.check(cert ?? Buffer.alloc(0), url);
  }
  if (plan.trust.refusal) throw new Error(plan.trust.refusal);
}

/** The refusal behind a failed connect, if the server certificate was refused. */
export function trustRefusal(plan: ClientPlan): string | undefined {
  return plan.trust?.refusal;
}

export async function openSession(client: OPCUAClient, plan: ClientPlan): Promise<ClientSession> {
  return client.createSession(plan.identity);
}
