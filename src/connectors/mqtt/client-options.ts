// Client options from the `broker` block: protocol version, session flags, credentials, TLS.
import type { MqttClientOptions } from "../../common/mqtt/client.ts";
import { loadTls } from "../../common/tls/index.ts";
import { withInstance } from "../../config/instance.ts";
import type { Logger } from "../../observe/logger.ts";
import type { MqttConfig } from "./schema.ts";

/** Reconnect backoff to the device broker: 1 s doubling to 30 s, with jitter. */
export const RECONNECT_BACKOFF = { minMs: 1000, maxMs: 30_000 };

function randomClientId(): string {
  let s = "";
  for (let i = 0; i < 23; i++) s += String.fromCharCode(97 + Math.floor(Math.random() * 26));
  return s;
}

/**
 * The client id: as configured, else random. With an instance id (several gateways on one config)
 * `${instance}` in it is replaced, else `-<instance>` is appended: two clients with one id would
 * take the connection from each other in turns.
 */
export function brokerClientId(configured: string | undefined, instance: string | undefined): string {
  if (!configured) return randomClientId();
  return withInstance(configured, instance);
}

export function clientOptions(broker: MqttConfig["broker"], configDir: string, log: Logger, instance?: string): { url: string; options: MqttClientOptions } {
  let version = broker.version;
  if (version !== 3 && version !== 4 && version !== 5) {
    log.error(`broker.version ${version} is not 3, 4 or 5; using MQTT 5`);
    version = 5;
  }
  const sec = broker.security;
  const tls = sec?.type === "certificates" || !!sec?.pathToCACert || !!sec?.pathToClientCert;
  const options: MqttClientOptions = {
    host: broker.host,
    port: broker.port,
    clientId: brokerClientId(broker.clientId, instance),
    protocolVersion: version as 3 | 4 | 5,
    keepaliveSeconds: broker.keepAlive,
    clean: version === 5 ? broker.cleanStart : broker.cleanSession,
    // QoS 1/2 messages are acknowledged once their data is in storage (ack-gate.ts)
    manualAck: true,
  };
  if (version === 5 && broker.sessionExpiryInterval > 0) options.sessionExpirySeconds = broker.sessionExpiryInterval;
  if (sec?.username !== undefined) {
    options.username = sec.username;
    if (sec.password !== undefined) options.password = sec.password;
  }
  if (tls) {
    options.tls = loadTls({ ca: sec?.pathToCACert, cert: sec?.pathToClientCert, key: sec?.pathToPrivateKey, insecure: sec?.insecure }, configDir);
  }
  return { url: `${tls ? "mqtts" : "mqtt"}://${broker.host}:${broker.port}`, options };
}
