// Platform connection options from the `thingsboard` section (spec platform-api.md §1.1).

import type { MqttClientOptions } from "../common/mqtt/client.ts";
import type { ThingsboardConfig } from "../config/main-schema.ts";
import { loadTls } from "../common/tls/index.ts";

export class CredentialsError extends Error {}

export interface PlatformEndpoint {
  /** mqtt:// or mqtts:// host:port, for logs and checks. */
  url: string;
  options: MqttClientOptions;
  /** For logs: never includes secrets. */
  describe: string;
}

/** `security` overrides `tb.security` (provisioned credentials, see provisioning.ts). */
export function platformEndpoint(tb: ThingsboardConfig, configDir: string, security = tb.security): PlatformEndpoint {
  const sec = security;
  if (!sec) throw new CredentialsError("thingsboard.security is missing: set an accessToken (or username/password, or certificates)");
  const type = sec.type ?? (sec.accessToken !== undefined ? "accessToken" : undefined);
  const options: MqttClientOptions = {
    host: tb.host,
    port: tb.port,
    keepaliveSeconds: tb.keep_alive,
    protocolVersion: 4,
    clean: true,
    clientId: "",
  };
  let who: string;
  switch (type) {
    case "accessToken":
    case "tlsAccessToken":
      if (!sec.accessToken) throw new CredentialsError(`thingsboard.security.accessToken is required for type ${type}`);
      options.username = sec.accessToken;
      who = "access token";
      break;
    case "usernamePassword":
      options.username = sec.username;
      options.password = sec.password;
      options.clientId = sec.clientId ?? "";
      who = `user ${sec.username ?? "(none)"}`;
      break;
    case "tlsPrivateKey":
    case "x509Certificate":
      who = "X.509 certificate";
      break;
    default:
      throw new CredentialsError(`thingsboard.security.type "${String(type)}" is not one of accessToken, tlsAccessToken, usernamePassword, tlsPrivateKey`);
  }
  // MQTT 3.1.1 requires a client id when the session is not clean; an empty one lets the broker pick.
  if (!options.clientId) options.clientId = `tb-gw-${Math.random().toString(16).slice(2, 10)}`;
  const tls = sec.tls === true || !!sec.caCert || tb.port === 8883 || type === "tlsAccessToken" || type === "tlsPrivateKey" || type === "x509Certificate";
  if (tls) {
    options.tls = loadTls({ ca: sec.caCert, cert: sec.cert, key: sec.privateKey, insecure: sec.insecure }, configDir);
  }
  const url = `${tls ? "mqtts" : "mqtt"}://${tb.host}:${tb.port}`;
  return { url, options, describe: `${tb.host}:${tb.port}${tls ? " (TLS)" : ""} as ${who}` };
}
