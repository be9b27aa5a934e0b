// Turns Node's terse TLS verification errors into a line that says what failed and which file to
// check, for the platform connection's retry log.

import { resolveConfigPath } from "../common/tls/index.ts";
import { errorText } from "../observe/logger.ts";

/** OpenSSL/Node codes meaning "the server's certificate did not verify against our CA". */
const VERIFY_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
]);

/**
 * A readable reason for a TLS failure, or undefined when `err` is not one. `caCert` is the
 * configured CA file (as written in the config), `configDir` the folder it is relative to.
 */
export function explainTlsError(err: Error & { code?: unknown }, caCert: string | undefined, configDir: string): string | undefined {
  const code = typeof err.code === "string" ? err.code : "";
  const ca = caCert ? resolveConfigPath(caCert, configDir) : undefined;
  if (VERIFY_CODES.has(code)) {
    const where = ca ? `against the CA certificate ${ca} (thingsboard.security.caCert)` : "against the system CAs (set thingsboard.security.caCert)";
    return `TLS verification of the platform's certificate failed ${where}: ${errorText(err)}`;
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return `TLS: the platform's certificate does not name this host (${errorText(err)}); use the host name the certificate was issued for`;
  return undefined;
}
