// mqtt.js options from the `broker` block: protocol version, session flags, credentials, TLS.
import type { IClientOptions } from "mqtt";
import { loadTls } from "../../common/tls/index.ts";
import type { Logger } from "../../observe/logger.ts";
import type { MqttConfig } from "./schema.ts";

export const FIRST_RECONNECT_MS = 1000;
export const MAX_RECONNECT_MS = 30_000;

function randomClientId(): string {
  let s = "";
  for (let i = 0; i < 23; i++) s += String.fromCharCode(97 + Math.floor(Math.random() * 26));
  return s;
}

export function clientOptions(broker: MqttConfig["broker"], configDir: string, log: Logger): { url: string; options: IClientOptions } {
  let version = broker.version;
  if (version !== 3 && version !== 4 && version !== 5) {
    log.error(`broker.version ${version} is not 3, 4 or 5; using MQTT 5`);
    version = 5;
  }
  const sec = broker.security;
  const tls = sec?.type === "certificates" || !!sec?.pathToCACert || !!sec?.pathToClientCert;
  const options: IClientOptions = {
    host: broker.host,
    port: broker.port,
    protocol: tls ? "mqtts" : "mqtt",
    clientId: broker.clientId || randomClientId(),
    protocolVersion: version as 3 | 4 | 5,
    protocolId: version === 3 ? "MQIsdp" : "MQTT",
    keepalive: broker.keepAlive,
    clean: version === 5 ? broker.cleanStart : broker.cleanSession,
    reconnectPeriod: FIRST_RECONNECT_MS,
    connectTimeout: 10_000,
    // subscriptions are made in our own on-connect handler, every time
    resubscribe: false,
    // no offline queue: a publish while disconnected fails and is reported (RPC error replies)
    queueQoSZero: false,
  };
  if (version === 5 && broker.sessionExpiryInterval > 0) options.properties = { sessionExpiryInterval: broker.sessionExpiryInterval };
  if (sec?.username !== undefined) {
    options.username = sec.username;
    if (sec.password !== undefined) options.password = sec.password;
  }
  if (tls) {
    Object.assign(options, loadTls({ ca: sec?.pathToCACert, cert: sec?.pathToClientCert, key: sec?.pathToPrivateKey, insecure: sec?.insecure }, configDir));
  }
  return { url: `${tls ? "mqtts" : "mqtt"}://${broker.host}:${broker.port}`, options };
}
