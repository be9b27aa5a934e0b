// One MQTT connection kept up with exponential backoff and jitter, shared by the platform client
// and the MQTT connector. Publishes pending when a connection drops fail (client.ts); the callers
// resend from their own state (storage, the broker's redelivery).

import { MqttClient, type MqttClientOptions } from "./client.ts";
import { errorText, type Logger } from "../../observe/logger.ts";

export interface BackoffOptions {
  /** First retry delay in ms. */
  minMs: number;
  /** Cap in ms while the peer is unreachable (down, restarting, network gone). */
  maxMs: number;
  /**
   * Cap in ms while the peer answers but refuses us (credentials, a certificate that does not
   * verify, "server busy"): retrying fast changes nothing and only loads the peer.
   */
  refusedMaxMs?: number;
}

/**
 * An unreachable peer is retried at least every 4 s (±25 % jitter: 3–5 s), so delivery resumes
 * within about 5 s of the platform's return even after a long outage (a 30 s cap made it 5–32 s);
 * the jitter keeps a fleet of gateways from reconnecting in step. A refusal backs off to 30 s.
 */
export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 4000, refusedMaxMs: 30000 };

/** While retries run at the cap, one line a minute says the peer is still down (not one per try). */
export const CAPPED_LOG_EVERY_MS = 60_000;

/** Delay for attempt n (0-based): min·2^n capped, with ±25 % jitter so fleets don't reconnect in step. */
export function backoffDelay(attempt: number, b: BackoffOptions, random: () => number = Math.random, refused = false): number {
  return Math.round(backoffBase(attempt, b, refused) * (0.75 + random() * 0.5));
}

function backoffBase(attempt: number, b: BackoffOptions, refused: boolean): number {
  const cap = refused ? (b.refusedMaxMs ?? b.maxMs) : b.maxMs;
  return Math.min(cap, b.minMs * 2 ** Math.min(attempt, 30));
}

/** A transport error that retrying will not fix: the peer's certificate does not verify. */
function isTlsRefusal(err: Error & { code?: unknown }): boolean {
  return typeof err.code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(err.code);
}

/** Bun says only "Failed to connect"; the code (ECONNREFUSED, ETIMEDOUT, ...) says why. */
function withCode(err: Error & { code?: unknown }): string {
  const text = errorText(err);
  return typeof err.code === "string" && !text.includes(err.code) ? `${text} (${err.code})` : text;
}

const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;

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
  let refused = false;
  let connected = false;
  /** When the current run of failed attempts started, and when it was last logged. */
  let downSince = 0;
  let loggedAt = 0;

  client.on("connect", () => {
    connected = true;
    if (attempt > 0) log.info(`${label}: connected after ${attempt} retr${attempt === 1 ? "y" : "ies"}`);
    else log.info(`${label}: connected`);
    attempt = 0;
    lastError = "";
    refused = false;
    downSince = 0;
    hooks.onConnect?.(client);
  });
  client.on("error", (err) => {
    const code = typeof err.code === "number" ? err.code : undefined;
    if (code !== undefined && code > 0) {
      lastError = `connection refused: ${connackReason(code)}`;
      refused = true;
      hooks.onRefused?.(lastError);
    } else {
      lastError = hooks.explainError?.(err) ?? withCode(err);
      refused = isTlsRefusal(err);
    }
  });
  client.on("close", () => {
    if (connected) {
      connected = false;
      hooks.onDisconnect?.(lastError || "connection closed");
    }
    if (closed || client.ended) return;
    const delay = backoffDelay(attempt, backoff, Math.random, refused);
    const now = Date.now();
    if (!downSince) downSince = now;
    // One line per attempt while the interval grows; at the cap, one line a minute.
    const capped = attempt > 0 && backoffBase(attempt - 1, backoff, refused) === backoffBase(attempt, backoff, refused);
    if (!capped || now - loggedAt >= CAPPED_LOG_EVERY_MS) {
      const since = capped ? `, failing for ${minutes(now - downSince)}; next report in a minute` : "";
      log.warn(`${label}: ${lastError || "not reachable"}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1}${since})`);
      loggedAt = now;
    }
    attempt++;
    lastError = "";
    refused = false;
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
