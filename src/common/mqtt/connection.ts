// One MQTT connection kept up with exponential backoff and jitter, shared by the platform client
// and the MQTT connector. Publishes pending when a connection drops fail (client.ts); the callers
// resend from their own state (storage, the broker's redelivery).

import { MqttClient, type MqttClientOptions } from "./client.ts";
import { errorText, type Logger } from "../../observe/logger.ts";

export interface BackoffOptions {
  /** First retry delay in ms. */
  minMs: number;
  /** Cap in ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 30000 };

/** Delay for attempt n (0-based): min·2^n capped, with ±25 % jitter so fleets don't reconnect in step. */
export function backoffDelay(attempt: number, b: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(b.maxMs, b.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.75 + random() * 0.5));
}

const CONNACK_REASONS: Record<number, string> = {
  1: "unacceptable protocol version",
  2: "client identifier rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
  128: "unspecified error",
  133: "client identifier not valid",
  134: "bad user name or password",
  135: "not authorized",
  136: "server unavailable",
  137: "server busy",
  138: "banned",
};

export function connackReason(code: number | undefined): string {
  return code === undefined ? "unknown" : (CONNACK_REASONS[code] ?? `code ${code}`);
}

export interface ManagedConnection {
  readonly client: MqttClient;
  /** Resolves when the first connection is up; never rejects (retries forever) until closed. */
  close(force?: boolean): Promise<void>;
}

export interface ConnectionHooks {
  onConnect?(client: MqttClient): void;
  onDisconnect?(reason: string): void;
  /** A refused CONNACK: credentials or authorisation. Called once per refusal. */
  onRefused?(reason: string): void;
  /** A clearer text for a transport error (e.g. which CA file a TLS verification used), if it knows one. */
  explainError?(err: Error & { code?: unknown }): string | undefined;
}

/**
 * Connect and keep the connection up until close(). `label` names the peer in logs
 * (e.g. "platform 127.0.0.1:1883").
 */
export function openConnection(
  options: MqttClientOptions,
  log: Logger,
  label: string,
  hooks: ConnectionHooks = {},
  backoff: BackoffOptions = DEFAULT_BACKOFF,
): ManagedConnection {
  const client = new MqttClient(options);
  let attempt = 0;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastError = "";
  let connected = false;

  client.on("connect", () => {
    connected = true;
    if (attempt > 0) log.info(`${label}: connected after ${attempt} retr${attempt === 1 ? "y" : "ies"}`);
    else log.info(`${label}: connected`);
    attempt = 0;
    lastError = "";
    hooks.onConnect?.(client);
  });
  client.on("error", (err) => {
    const code = typeof err.code === "number" ? err.code : undefined;
    if (code !== undefined && code > 0) {
      lastError = `connection refused: ${connackReason(code)}`;
      hooks.onRefused?.(lastError);
    } else lastError = hooks.explainError?.(err) ?? errorText(err);
  });
  client.on("close", () => {
    if (connected) {
      connected = false;
      hooks.onDisconnect?.(lastError || "connection closed");
    }
    if (closed || client.ended) return;
    const delay = backoffDelay(attempt, backoff);
    // One line per attempt, but at growing intervals thanks to the backoff.
    log.warn(`${label}: ${lastError || "not reachable"}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1})`);
    attempt++;
    lastError = "";
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!closed) client.connect();
    }, delay);
  });
  client.connect();

  return {
    client,
    close(force = false) {
      closed = true;
      clearTimeout(timer);
      return client.end(force);
    },
  };
}

/** One connection, no retries: resolves once connected, rejects with the first error (provisioning, tools). */
export function connectOnce(options: MqttClientOptions): Promise<MqttClient> {
  const client = new MqttClient(options);
  return new Promise((resolve, reject) => {
    let lastError: Error | undefined;
    client.on("connect", () => resolve(client));
    client.on("error", (e) => (lastError = e));
    client.on("close", () => reject(lastError ?? new Error("connection closed before it was accepted")));
    client.connect();
  });
}
